# In a MinGW cross build without Poco, OpenSSL and SQLite for Windows (Debian has none), the agent,
# the web page and the storage cannot be linked for Windows. They are still compiled, against the
# platform-independent headers of Debian's libpoco-dev, libssl-dev and libsqlite3-dev (which
# include Poco's Windows parts), so that Windows-only code such as the service entry and every
# platform difference in the agent at least compiles for Windows here.
set(foreign "${CMAKE_BINARY_DIR}/windows-foreign-include")
file(MAKE_DIRECTORY "${foreign}/openssl")
file(CREATE_LINK /usr/include/Poco "${foreign}/Poco" SYMBOLIC)
file(CREATE_LINK /usr/include/sqlite3.h "${foreign}/sqlite3.h" SYMBOLIC)
file(GLOB openssl_headers /usr/include/openssl/*.h /usr/include/x86_64-linux-gnu/openssl/*.h)
foreach(header IN LISTS openssl_headers)
  get_filename_component(name "${header}" NAME)
  file(CREATE_LINK "${header}" "${foreign}/openssl/${name}" SYMBOLIC)
endforeach()
# Poco spells some Windows headers as MSVC does, on a case-insensitive file system.
foreach(spelling Winsock2.h WS2tcpip.h Windows.h Iphlpapi.h Iptypes.h IPHlpApi.h)
  string(TOLOWER "${spelling}" lower)
  if(EXISTS "/usr/share/mingw-w64/include/${lower}")
    file(CREATE_LINK "/usr/share/mingw-w64/include/${lower}" "${foreign}/${spelling}" SYMBOLIC)
  endif()
endforeach()

file(GLOB compiled_for_windows "${PROJECT_SOURCE_DIR}/storage/*.cpp")
file(GLOB_RECURSE compiled_for_windows_in_rooms "${PROJECT_SOURCE_DIR}/web/*.cpp"
     "${PROJECT_SOURCE_DIR}/agent/*.cpp")
list(APPEND compiled_for_windows ${compiled_for_windows_in_rooms})
list(REMOVE_ITEM compiled_for_windows "${PROJECT_SOURCE_DIR}/agent/main.cpp")
add_library(certbridge_windows_compile_check OBJECT ${compiled_for_windows})
target_include_directories(certbridge_windows_compile_check SYSTEM PRIVATE "${foreign}")
target_compile_definitions(certbridge_windows_compile_check PRIVATE POCO_NO_AUTOMATIC_LIBS)
target_link_libraries(certbridge_windows_compile_check PRIVATE certbridge_settings)
