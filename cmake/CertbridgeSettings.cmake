# Warnings, sanitizers and hardening on one INTERFACE target that every certbridge target links.
add_library(certbridge_settings INTERFACE)

target_include_directories(certbridge_settings INTERFACE "${PROJECT_SOURCE_DIR}")

if(CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang")
  target_compile_options(certbridge_settings INTERFACE
    -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wno-sign-conversion
    -Wnon-virtual-dtor -Wold-style-cast -Woverloaded-virtual
    # GCC 12 warns on designated initialisers that rely on default member initialisers.
    -Wno-missing-field-initializers)
  target_compile_definitions(certbridge_settings INTERFACE
    $<$<NOT:$<CONFIG:Debug>>:_FORTIFY_SOURCE=2>)
  target_compile_options(certbridge_settings INTERFACE -fstack-protector-strong)
  if(MINGW)
    # MinGW keeps the stack protector's runtime in a library of its own.
    target_link_libraries(certbridge_settings INTERFACE ssp)
  endif()
endif()

set(CERTBRIDGE_SANITIZE "" CACHE STRING
    "Comma-separated sanitizers for every target, e.g. address,undefined")
if(CERTBRIDGE_SANITIZE)
  target_compile_options(certbridge_settings INTERFACE
    -fsanitize=${CERTBRIDGE_SANITIZE} -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  target_link_options(certbridge_settings INTERFACE -fsanitize=${CERTBRIDGE_SANITIZE})
endif()

# libFuzzer targets (tests/fuzz): every library gets the fuzzer's coverage instrumentation, the
# targets link libFuzzer's main. Only clang has it; without this option the same targets are built
# as plain programs that replay their committed corpus.
option(CERTBRIDGE_FUZZ "Build the libFuzzer targets under tests/fuzz (clang only)" OFF)
if(CERTBRIDGE_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "CERTBRIDGE_FUZZ needs clang (libFuzzer): -DCMAKE_CXX_COMPILER=clang++")
  endif()
  target_compile_options(certbridge_settings INTERFACE -fsanitize=fuzzer-no-link)
endif()

find_program(CCACHE_PROGRAM ccache)
if(CCACHE_PROGRAM)
  set(CMAKE_CXX_COMPILER_LAUNCHER "${CCACHE_PROGRAM}" CACHE STRING "")
endif()
