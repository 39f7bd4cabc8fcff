# Windows: `cpack -G NSIS` makes certbridge-VERSION-win64.exe (with MSVC and vcpkg on Windows, or
# from the MinGW cross build on Linux with Debian's nsis), which installs certbridge.exe under
# Program Files, puts the default configuration in %ProgramData%\certbridge\certbridge.ini (kept
# when already there), and registers the "certbridge" service (automatic start) with
# certbridge.exe /registerService. Uninstalling stops and unregisters the service and removes the
# program; the configuration and state in %ProgramData% stay.
install(FILES "${CMAKE_CURRENT_LIST_DIR}/certbridge.ini" DESTINATION share/certbridge)
install(FILES "${PROJECT_SOURCE_DIR}/README.md" DESTINATION doc)

set(CPACK_GENERATOR NSIS)
set(CPACK_PACKAGE_NAME certbridge)
set(CPACK_PACKAGE_VENDOR "certbridge developers")
set(CPACK_PACKAGE_VERSION "${PROJECT_VERSION}")
set(CPACK_PACKAGE_FILE_NAME "certbridge-${PROJECT_VERSION}-win64")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "nginx client-certificate (mTLS) trust from the Windows certificate stores")
set(CPACK_PACKAGE_INSTALL_DIRECTORY certbridge)
set(CPACK_NSIS_DISPLAY_NAME certbridge)
set(CPACK_NSIS_ENABLE_UNINSTALL_BEFORE_INSTALL ON)
# certbridge.exe is a 64-bit program: the 64-bit Program Files, and a 64-bit installer (makensis
# builds a 32-bit one unless told otherwise; Debian's nsis ships the amd64 stubs).
set(CPACK_NSIS_INSTALL_ROOT "$PROGRAMFILES64")
# makensis builds a 32-bit installer unless the script says `Target amd64-unicode` first (Debian's
# nsis ships the amd64 stubs; wine64 alone runs only 64-bit programs). CPack splits
# CPACK_NSIS_EXECUTABLE_PRE_ARGUMENTS at spaces, so `-XTarget amd64-unicode` cannot be passed:
# CPack's own template, with that line added, is put first on CPack's module path instead.
set(cpack_nsis_template "${CMAKE_ROOT}/Modules/Internal/CPack/NSIS.template.in")
if(EXISTS "${cpack_nsis_template}")
  file(READ "${cpack_nsis_template}" nsis_template)
  string(REPLACE "  SetCompressor " "  Target amd64-unicode\n  SetCompressor " nsis_template
                 "${nsis_template}")
  file(WRITE "${PROJECT_BINARY_DIR}/cpack-nsis/NSIS.template.in" "${nsis_template}")
  list(PREPEND CMAKE_MODULE_PATH "${PROJECT_BINARY_DIR}/cpack-nsis")
endif()
# The commands below hold quotes and backslashes, which CPackConfig.cmake must keep as they are.
set(CPACK_VERBATIM_VARIABLES ON)
# $APPDATA is %ProgramData% once the shell context is "all users".
set(CPACK_NSIS_EXTRA_INSTALL_COMMANDS [=[
  SetShellVarContext all
  CreateDirectory "$APPDATA\certbridge"
  IfFileExists "$APPDATA\certbridge\certbridge.ini" +2 0
  CopyFiles /SILENT "$INSTDIR\share\certbridge\certbridge.ini" "$APPDATA\certbridge\certbridge.ini"
  ExecWait '"$INSTDIR\bin\certbridge.exe" /registerService /displayName=certbridge /startup=auto'
]=])
# `sc stop` only asks the service to stop: its process may still run certbridge.exe when NSIS
# deletes the program, and Windows (and Wine) refuse to delete a program that runs. So the
# uninstaller retries deleting certbridge.exe for up to 30 s before it removes the rest, and marks
# it for deletion at the next restart if it is still held then.
set(CPACK_NSIS_EXTRA_UNINSTALL_COMMANDS [=[
  ExecWait '"$SYSDIR\sc.exe" stop certbridge'
  ExecWait '"$INSTDIR\bin\certbridge.exe" /unregisterService'
  StrCpy $0 0
  certbridge_delete_program:
    Delete "$INSTDIR\bin\certbridge.exe"
    IfFileExists "$INSTDIR\bin\certbridge.exe" 0 certbridge_program_deleted
    IntOp $0 $0 + 1
    IntCmp $0 60 certbridge_delete_at_restart 0 certbridge_delete_at_restart
    Sleep 500
    Goto certbridge_delete_program
  certbridge_delete_at_restart:
    Delete /REBOOTOK "$INSTDIR\bin\certbridge.exe"
  certbridge_program_deleted:
]=])
include(CPack)
