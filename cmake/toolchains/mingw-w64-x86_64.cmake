# Cross-compiles certbridge for 64-bit Windows with Debian's MinGW-w64 (posix threads) and runs
# what it builds under Wine:
#   cmake -S . -B build-win -DCMAKE_TOOLCHAIN_FILE=cmake/toolchains/mingw-w64-x86_64.cmake \
#     -DCERTBRIDGE_MINGW_DEPS="$(scripts/windows-deps)"
#   cmake --build build-win && ctest --test-dir build-win
# CERTBRIDGE_MINGW_DEPS (or the environment variable of that name) is the folder where
# scripts/windows-deps installed OpenSSL, SQLite and Poco for Windows (Debian ships none).
# Without it, only the platform library and its tests are built.
set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_PROCESSOR x86_64)

set(CMAKE_C_COMPILER x86_64-w64-mingw32-gcc-posix)
set(CMAKE_CXX_COMPILER x86_64-w64-mingw32-g++-posix)
set(CMAKE_RC_COMPILER x86_64-w64-mingw32-windres)

if(NOT CERTBRIDGE_MINGW_DEPS AND DEFINED ENV{CERTBRIDGE_MINGW_DEPS})
  set(CERTBRIDGE_MINGW_DEPS "$ENV{CERTBRIDGE_MINGW_DEPS}")
endif()
# try_compile reads this file again: hand it the folder too.
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES CERTBRIDGE_MINGW_DEPS)

# Every search is re-rooted below these folders (mode ONLY), CMAKE_PREFIX_PATH included: the
# dependency folder must be one of them, or nothing in it is found.
set(CMAKE_FIND_ROOT_PATH /usr/x86_64-w64-mingw32)
if(CERTBRIDGE_MINGW_DEPS)
  list(APPEND CMAKE_FIND_ROOT_PATH "${CERTBRIDGE_MINGW_DEPS}")
  list(APPEND CMAKE_PREFIX_PATH "${CERTBRIDGE_MINGW_DEPS}")
endif()
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# One self-contained .exe: no libstdc++/winpthread DLLs to find under Wine or on Windows.
set(CMAKE_EXE_LINKER_FLAGS_INIT "-static")

find_program(CERTBRIDGE_WINE NAMES wine64 wine PATHS /usr/lib/wine NO_CMAKE_FIND_ROOT_PATH)
if(CERTBRIDGE_WINE)
  set(CMAKE_CROSSCOMPILING_EMULATOR "${CERTBRIDGE_WINE}")
endif()
