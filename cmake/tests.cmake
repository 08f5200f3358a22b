# C unit tests (one program per csrc/test/test_*.c) and busted specs (one
# CTest test per spec file), all run by ctest.

set(RTPMIDI_TEST_ENV "")
if(RTPMIDI_SANITIZE)
  # lua5.4 itself is not instrumented: preload the runtimes into it.
  execute_process(COMMAND ${CMAKE_C_COMPILER} -print-file-name=libasan.so
    OUTPUT_VARIABLE ASAN_LIB OUTPUT_STRIP_TRAILING_WHITESPACE)
  execute_process(COMMAND ${CMAKE_C_COMPILER} -print-file-name=libubsan.so
    OUTPUT_VARIABLE UBSAN_LIB OUTPUT_STRIP_TRAILING_WHITESPACE)
  set(RTPMIDI_LUA_ENV "LD_PRELOAD=${ASAN_LIB}:${UBSAN_LIB}"
    "ASAN_OPTIONS=detect_leaks=0:abort_on_error=1"
    "UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1")
else()
  set(RTPMIDI_LUA_ENV "")
endif()

set(RTPMIDI_C_TESTS
  csrc/test/test_addr.c
  csrc/test/test_am_session.c
  csrc/test/test_applemidi.c
  csrc/test/test_capi_config.c
  csrc/test/test_capi_teardown.c
  csrc/test/test_discovery_hung.c
  csrc/test/test_discovery_fork.c
  csrc/test/test_discovery_list.c
  csrc/test/test_endpoint.c
  csrc/test/test_icmp_forged.c
  csrc/test/test_v4mapped_forged.c
  csrc/test/test_fuzz_regressions.c
  csrc/test/test_jitter_buffer.c
  csrc/test/test_journal_chapters.c
  csrc/test/test_journal_converge.c
  csrc/test/test_journal_mem.c
  csrc/test/test_journal_rfc.c
  csrc/test/test_journal_sendrecv.c
  csrc/test/test_midi2.c
  csrc/test/test_midi2_session.c
  csrc/test/test_midi_cmd.c
  csrc/test/test_midi_held.c
  csrc/test/test_midi_msg.c
  csrc/test/test_midi_stream.c
  csrc/test/test_reentry.c
  csrc/test/test_rtcp.c
  csrc/test/test_rtp.c
  csrc/test/test_rtp_seq.c
  csrc/test/test_rtp_source.c
  csrc/test/test_slack.c
  csrc/test/test_ump.c
)
foreach(src ${RTPMIDI_C_TESTS})
  get_filename_component(name ${src} NAME_WE)
  add_executable(${name} ${src})
  target_include_directories(${name} PRIVATE csrc/test csrc/core)
  target_compile_options(${name} PRIVATE ${RTPMIDI_WARNINGS})
  target_link_libraries(${name} PRIVATE rtpmidi_core m)
  add_test(NAME c/${name} COMMAND ${name})
endforeach()
# Its sockets need ::1 (its address rules are checked without).
set_tests_properties(c/test_addr PROPERTIES SKIP_RETURN_CODE 77)
# Skipped (77) without a raw socket (root or CAP_NET_RAW) to forge ICMP.
set_tests_properties(c/test_icmp_forged PROPERTIES SKIP_RETURN_CODE 77)
set_tests_properties(c/test_v4mapped_forged PROPERTIES SKIP_RETURN_CODE 77)
# Every teardown order, under ASan with leak detection: an object the
# runtime never released is a failure.
set_tests_properties(c/test_capi_teardown PROPERTIES TIMEOUT 300
  ENVIRONMENT "ASAN_OPTIONS=detect_leaks=1:abort_on_error=1;UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1")
# The same with a MIDI input among the objects, on a JACK server of its own
# (every 30th order: JACK ports are slow to make). Off by default: libjack
# 1.9.21 (Debian 12) crashes now and then in a thread of its own while a
# port is unregistered or a client closed -- about once in a thousand port
# closes, under RtMidi 5.0 and under our own backend alike (gdb: a libjack
# thread, ours in jack_port_unregister / jack_client_close). midi_jack.c keeps
# its client to make it rarer; csrc/test/with_jackd.sh runs this by hand.
set(_jack_teardown_default OFF)
option(RTPMIDI_TEST_JACK_TEARDOWN "Register c/test_capi_teardown_midi_in (needs jackd)" ${_jack_teardown_default})
if(RTPMIDI_HAVE_RTMIDI AND RTPMIDI_TEST_JACK_TEARDOWN)
  add_test(NAME c/test_capi_teardown_midi_in
    COMMAND sh ${PROJECT_SOURCE_DIR}/csrc/test/with_jackd.sh $<TARGET_FILE:test_capi_teardown> 30)
  set_tests_properties(c/test_capi_teardown_midi_in PROPERTIES TIMEOUT 300 SKIP_RETURN_CODE 77 RUN_SERIAL TRUE
    ENVIRONMENT "RTPMIDI_TEST_MIDI_IN=1;ASAN_OPTIONS=detect_leaks=1:abort_on_error=1;UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1")
endif()
# On a server of their own (csrc/core/midi_jack.c; skipped, 77, without
# jackd): a SysEx in pieces from another JACK client reaches a MidiIn whole;
# a message sent right after a MidiOut opened onto a port is not lost; a
# forked child's exit leaves the parent's client alone.
if(RTPMIDI_HAVE_JACK)
  foreach(t test_jack_sysex_pieces test_jack_connect_settle test_jack_fork)
    add_executable(${t} csrc/test/${t}.c)
    target_include_directories(${t} PRIVATE csrc/test csrc/core)
    target_compile_options(${t} PRIVATE ${RTPMIDI_WARNINGS})
    target_link_libraries(${t} PRIVATE rtpmidi_core PkgConfig::JACK m)
    add_test(NAME c/${t} COMMAND sh ${PROJECT_SOURCE_DIR}/csrc/test/with_jackd.sh $<TARGET_FILE:${t}>)
    set_tests_properties(c/${t} PROPERTIES TIMEOUT 60 SKIP_RETURN_CODE 77
      ENVIRONMENT "ASAN_OPTIONS=detect_leaks=1:abort_on_error=1;UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1")
  endforeach()
endif()
# Skipped (77) when Avahi is not compiled in.
set_tests_properties(c/test_discovery_hung PROPERTIES SKIP_RETURN_CODE 77)
set_tests_properties(c/test_discovery_fork PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 120)
# It tries MIDI ports: RtMidi's own leak without a JACK server is suppressed.
set_tests_properties(c/test_capi_config PROPERTIES
  ENVIRONMENT "LSAN_OPTIONS=suppressions=${PROJECT_SOURCE_DIR}/csrc/test/lsan.supp")

# Wireshark's dissectors as an outside oracle for what we put on the wire.
add_executable(midi_pcap csrc/test/midi_pcap.c)
target_compile_options(midi_pcap PRIVATE ${RTPMIDI_WARNINGS})
target_link_libraries(midi_pcap PRIVATE rtpmidi_proto)
add_test(NAME tshark/midi_command_section
  COMMAND sh ${PROJECT_SOURCE_DIR}/csrc/test/tshark_midi.sh $<TARGET_FILE:midi_pcap>)
set_tests_properties(tshark/midi_command_section PROPERTIES SKIP_RETURN_CODE 77)
add_executable(journal_pcap csrc/test/journal_pcap.c)
target_compile_options(journal_pcap PRIVATE ${RTPMIDI_WARNINGS})
target_link_libraries(journal_pcap PRIVATE rtpmidi_proto)
add_test(NAME tshark/recovery_journal
  COMMAND sh ${PROJECT_SOURCE_DIR}/csrc/test/tshark_journal.sh $<TARGET_FILE:journal_pcap>)
set_tests_properties(tshark/recovery_journal PROPERTIES SKIP_RETURN_CODE 77)

# The C library as an outside program uses it (csrc/test/capi_*.sh): the
# install with its pkg-config file, and an RTP-only build of its own.
if(RTPMIDI_C_LIBS AND RTPMIDI_INSTALL_C)
  set(RTPMIDI_CAPI_CFLAGS "")
  if(RTPMIDI_SANITIZE)
    set(RTPMIDI_CAPI_CFLAGS -fsanitize=address,undefined -fno-omit-frame-pointer)
  endif()
  add_test(NAME capi/pkgconfig
    COMMAND sh ${PROJECT_SOURCE_DIR}/csrc/test/capi_pkgconfig.sh ${CMAKE_COMMAND} ${CMAKE_BINARY_DIR}
      ${PROJECT_SOURCE_DIR} ${CMAKE_BINARY_DIR}/capi-pkgconfig ${CMAKE_C_COMPILER} ${RTPMIDI_CAPI_CFLAGS})
  set_tests_properties(capi/pkgconfig PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 120
    ENVIRONMENT "ASAN_OPTIONS=detect_leaks=1:abort_on_error=1")
endif()
add_test(NAME capi/rtp_only
  COMMAND sh ${PROJECT_SOURCE_DIR}/csrc/test/capi_rtp_only.sh ${CMAKE_COMMAND}
    ${PROJECT_SOURCE_DIR} ${CMAKE_BINARY_DIR}/capi-rtp-only ${CMAKE_C_COMPILER})
set_tests_properties(capi/rtp_only PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 300 RUN_SERIAL TRUE)

# `make check` sets RTPMIDI_REQUIRE_TEST_TOOLS: a missing test tool then
# stops the configure with one line instead of leaving its tests out.
option(RTPMIDI_REQUIRE_TEST_TOOLS "Fail the configure when busted or luarocks is missing" OFF)

if(NOT RTPMIDI_LUA)
  return() # what follows runs Lua
endif()
find_program(BUSTED busted)
find_program(LUA54 lua5.4 REQUIRED)
if(RTPMIDI_REQUIRE_TEST_TOOLS)
  if(NOT BUSTED)
    message(FATAL_ERROR "busted is missing: install lua-busted (make deps-test), then configure again")
  endif()
endif()
# The module search paths come from .busted, which reads RTPMIDI_BUILD_DIR.
set(RTPMIDI_SPEC_ENV
  "RTPMIDI_SOURCE_DIR=${PROJECT_SOURCE_DIR}" "RTPMIDI_BUILD_DIR=${CMAKE_BINARY_DIR}"
  ${RTPMIDI_LUA_ENV})

if(BUSTED)
  file(GLOB RTPMIDI_SPECS CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/spec/*_spec.lua)
  foreach(spec ${RTPMIDI_SPECS})
    get_filename_component(name ${spec} NAME_WE)
    add_test(NAME spec/${name}
      COMMAND ${BUSTED} --lua=${LUA54} -o utfTerminal ${spec}
      WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
    set_tests_properties(spec/${name} PROPERTIES ENVIRONMENT "${RTPMIDI_SPEC_ENV}" TIMEOUT 300)
  endforeach()
  # The AppleMIDI interop spec starts node-rtpmidi and tshark: their start-up
  # times are not ours to bound under a loaded parallel run.
  if(TEST spec/applemidi_node_spec)
    set_tests_properties(spec/applemidi_node_spec PROPERTIES RUN_SERIAL TRUE)
  endif()
else()
  message(WARNING "busted not found: the Lua specs are not registered")
endif()

# Discovery through real avahi-daemons in two network namespaces (needs
# root, dbus and avahi-daemon; skipped with the reason otherwise).
add_test(NAME netns/discovery
  COMMAND sh ${PROJECT_SOURCE_DIR}/spec/discovery_netns.sh ${CMAKE_BINARY_DIR} -o utfTerminal
  WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
set_tests_properties(netns/discovery PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 300 RUN_SERIAL TRUE
  ENVIRONMENT "${RTPMIDI_LUA_ENV}")

# One end-to-end script under valgrind (no error, no definite leak). Label
# "valgrind": `ctest -LE valgrind` leaves it out. Skipped (77) without
# valgrind; not registered in sanitizer builds (ASan and valgrind exclude
# each other).
if(NOT RTPMIDI_SANITIZE)
  add_test(NAME valgrind/e2e
    COMMAND sh ${PROJECT_SOURCE_DIR}/spec/valgrind.sh ${LUA54} ${CMAKE_BINARY_DIR}
    WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
  set_tests_properties(valgrind/e2e PROPERTIES LABELS valgrind SKIP_RETURN_CODE 77 TIMEOUT 300)
endif()

# The rockspec installs into a fresh tree and the module loads from there.
find_program(LUAROCKS luarocks)
if(RTPMIDI_REQUIRE_TEST_TOOLS AND NOT LUAROCKS)
  message(FATAL_ERROR "luarocks is missing: install luarocks (make deps-test), then configure again")
endif()
if(LUAROCKS AND NOT RTPMIDI_SANITIZE)
  add_test(NAME install/luarocks
    COMMAND sh ${PROJECT_SOURCE_DIR}/.ci/luarocks-install-test.sh ${CMAKE_BINARY_DIR}/luarocks-tree
    WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
  set_tests_properties(install/luarocks PROPERTIES TIMEOUT 600 RUN_SERIAL TRUE)
endif()

# make dist's source rock, built by luarocks from scratch (a minute or two of
# compiling on a loaded machine); its build has nothing to do with the
# sanitizers, so the ASan tree leaves it to the plain one, as install/luarocks.
if(TEST spec/dist_spec)
  set_tests_properties(spec/dist_spec PROPERTIES TIMEOUT 600)
  if(RTPMIDI_SANITIZE)
    set_tests_properties(spec/dist_spec PROPERTIES DISABLED TRUE)
  endif()
endif()

# Specs that measure timing through JACK run alone, so that the rest of the
# suite running in parallel does not load the machine under them.
foreach(t spec/midi_ports_spec spec/midisession_devices_spec)
  if(TEST ${t})
    set_tests_properties(${t} PROPERTIES RUN_SERIAL TRUE)
  endif()
endforeach()
