# rtpmidi.pc for programs that link librtpmidi:
#   cc prog.c $(pkg-config --cflags --libs rtpmidi)
#
# rtpmidi.h includes uv.h: libuv is always required; libcrypto always
# linked (Network MIDI 2.0). RtMidi and Avahi are listed only when compiled
# in. With a shared library they are its own
# business (Requires.private, read by `pkg-config --static` only). A
# static-only install has no library that carries them: then what a static
# link needs is public, so that the plain `--libs` links.
#
# The paths are relative to the .pc file (${pcfiledir}, which pkg-config and
# pkgconf both know), so that `cmake --install --prefix DIR` and DESTDIR
# installs give a usable file wherever the tree ends up.

# libcrypto: SHA-256 of Network MIDI 2.0 authentication.
set(RTPMIDI_PC_DEPS libcrypto)
if(RTPMIDI_HAVE_RTMIDI)
  list(APPEND RTPMIDI_PC_DEPS rtmidi)
endif()
if(RTPMIDI_HAVE_JACK)
  list(APPEND RTPMIDI_PC_DEPS jack)
endif()
if(RTPMIDI_HAVE_AVAHI)
  list(APPEND RTPMIDI_PC_DEPS avahi-client)
endif()
string(REPLACE ";" " " RTPMIDI_PC_DEPS "${RTPMIDI_PC_DEPS}")
set(RTPMIDI_PC_SYSLIBS "-lm -pthread")

if(RTPMIDI_SHARED)
  set(RTPMIDI_PC_REQUIRES "libuv")
  set(RTPMIDI_PC_REQUIRES_PRIVATE "${RTPMIDI_PC_DEPS}")
  set(RTPMIDI_PC_LIBS "")
  set(RTPMIDI_PC_LIBS_PRIVATE "${RTPMIDI_PC_SYSLIBS}")
else()
  string(STRIP "libuv ${RTPMIDI_PC_DEPS}" RTPMIDI_PC_REQUIRES)
  set(RTPMIDI_PC_REQUIRES_PRIVATE "")
  set(RTPMIDI_PC_LIBS "${RTPMIDI_PC_SYSLIBS}")
  set(RTPMIDI_PC_LIBS_PRIVATE "")
endif()

set(RTPMIDI_PC_DIR "${CMAKE_INSTALL_LIBDIR}/pkgconfig")
if(IS_ABSOLUTE "${RTPMIDI_PC_DIR}")
  # An absolute libdir: the paths cannot follow the file.
  set(RTPMIDI_PC_PREFIX "${CMAKE_INSTALL_PREFIX}")
  set(RTPMIDI_PC_LIBDIR "${CMAKE_INSTALL_FULL_LIBDIR}")
else()
  file(RELATIVE_PATH rel "/prefix/${RTPMIDI_PC_DIR}" "/prefix")
  string(REGEX REPLACE "/$" "" rel "${rel}")
  set(RTPMIDI_PC_PREFIX "\${pcfiledir}/${rel}")
  set(RTPMIDI_PC_LIBDIR "\${prefix}/${CMAKE_INSTALL_LIBDIR}")
endif()
if(IS_ABSOLUTE "${CMAKE_INSTALL_INCLUDEDIR}")
  set(RTPMIDI_PC_INCLUDEDIR "${CMAKE_INSTALL_INCLUDEDIR}")
else()
  set(RTPMIDI_PC_INCLUDEDIR "\${prefix}/${CMAKE_INSTALL_INCLUDEDIR}")
endif()

configure_file(${PROJECT_SOURCE_DIR}/cmake/rtpmidi.pc.in ${CMAKE_BINARY_DIR}/rtpmidi.pc @ONLY)
install(FILES ${CMAKE_BINARY_DIR}/rtpmidi.pc DESTINATION ${RTPMIDI_PC_DIR})
