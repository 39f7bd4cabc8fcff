# Windows (MSVC with vcpkg): `cpack -G NSIS` makes certbridge-VERSION-win64.exe, which installs
# certbridge.exe under Program Files, puts the default configuration in
# %ProgramData%\certbridge\certbridge.ini (kept when already there), and registers the
# "certbridge" service (automatic start) with certbridge.exe /registerService. Uninstalling
# stops and unregisters the service; the configuration and state in %ProgramData% stay.
install(FILES "${CMAKE_CURRENT_LIST_DIR}/certbridge.ini" DESTINATION share/certbridge)
install(FILES "${PROJECT_SOURCE_DIR}/README.md" DESTINATION doc)

set(CPACK_GENERATOR NSIS)
set(CPACK_PACKAGE_NAME certbridge)
set(CPACK_PACKAGE_VENDOR "certbridge developers")
set(CPACK_PACKAGE_VERSION "${PROJECT_VERSION}")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "nginx client-certificate (mTLS) trust from the Windows certificate stores")
set(CPACK_PACKAGE_INSTALL_DIRECTORY certbridge)
set(CPACK_NSIS_DISPLAY_NAME certbridge)
set(CPACK_NSIS_ENABLE_UNINSTALL_BEFORE_INSTALL ON)
# $APPDATA is %ProgramData% once the shell context is "all users".
set(CPACK_NSIS_EXTRA_INSTALL_COMMANDS [=[
  SetShellVarContext all
  CreateDirectory "$APPDATA\certbridge"
  IfFileExists "$APPDATA\certbridge\certbridge.ini" +2 0
  CopyFiles /SILENT "$INSTDIR\share\certbridge\certbridge.ini" "$APPDATA\certbridge\certbridge.ini"
  ExecWait '"$INSTDIR\bin\certbridge.exe" /registerService /displayName=certbridge /startup=auto'
]=])
set(CPACK_NSIS_EXTRA_UNINSTALL_COMMANDS [=[
  ExecWait '"$SYSDIR\sc.exe" stop certbridge'
  ExecWait '"$INSTDIR\bin\certbridge.exe" /unregisterService'
]=])
include(CPack)
