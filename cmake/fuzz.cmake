# libFuzzer targets (csrc/test/fuzz/fuzz_<name>.c), built when RTPMIDI_FUZZ
# is ON. Needs clang (libFuzzer ships with it: -fsanitize=fuzzer; on Debian
# the runtime is in libclang-rt-dev):
#   cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DRTPMIDI_FUZZ=ON
#   cmake --build build-fuzz --target fuzz_all
# `make fuzz` does that and runs each target (csrc/test/fuzz/run.sh).
#
# The protocol sources are compiled again into rtpmidi_proto_fuzz with
# coverage instrumentation, ASan and UBSan (UB aborts, so libFuzzer keeps
# the input); each target links it with the libFuzzer driver.

option(RTPMIDI_FUZZ "Build the libFuzzer targets of csrc/test/fuzz (clang only)" OFF)

if(RTPMIDI_FUZZ)
  if(NOT CMAKE_C_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "RTPMIDI_FUZZ=ON needs clang: configure with -DCMAKE_C_COMPILER=clang")
  endif()

  set(RTPMIDI_FUZZ_SAN -fsanitize=address,undefined -fno-sanitize-recover=all
    -fno-omit-frame-pointer -g)

  add_library(rtpmidi_proto_fuzz STATIC ${RTPMIDI_PROTO_SOURCES})
  target_include_directories(rtpmidi_proto_fuzz PUBLIC csrc/proto)
  target_compile_options(rtpmidi_proto_fuzz PRIVATE ${RTPMIDI_WARNINGS}
    -fsanitize=fuzzer-no-link ${RTPMIDI_FUZZ_SAN})

  set(RTPMIDI_FUZZ_TARGETS
    rtp rtcp midi_cmd midi_msg journal applemidi
    cmd_roundtrip journal_roundtrip applemidi_roundtrip
    am_session midi2 ump midi2_session rtp_source session)

  add_custom_target(fuzz_all)
  foreach(name ${RTPMIDI_FUZZ_TARGETS})
    add_executable(fuzz_${name} csrc/test/fuzz/fuzz_${name}.c)
    target_include_directories(fuzz_${name} PRIVATE csrc/test/fuzz)
    target_compile_options(fuzz_${name} PRIVATE ${RTPMIDI_WARNINGS}
      -fsanitize=fuzzer ${RTPMIDI_FUZZ_SAN})
    target_link_options(fuzz_${name} PRIVATE -fsanitize=fuzzer ${RTPMIDI_FUZZ_SAN})
    target_link_libraries(fuzz_${name} PRIVATE rtpmidi_proto_fuzz)
    set_target_properties(fuzz_${name} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/fuzz)
    add_dependencies(fuzz_all fuzz_${name})
  endforeach()
endif()
