# Linux: what `cmake --install` and `cpack -G DEB` put where. The binary goes to bin/ (see
# agent/CMakeLists.txt); with CPACK_PACKAGING_INSTALL_PREFIX /usr that is /usr/bin/certbridge.
set(installers "${CMAKE_CURRENT_LIST_DIR}")

install(FILES "${installers}/certbridge.service" DESTINATION lib/systemd/system)
# Absolute on purpose: the configuration belongs in /etc whatever the prefix (a conffile).
install(FILES "${installers}/certbridge.ini" DESTINATION /etc/certbridge)
# agent_role.sql: the fleet's least-privilege PostgreSQL role (README, Fleet).
install(FILES "${PROJECT_SOURCE_DIR}/README.md" "${installers}/copyright"
              "${PROJECT_SOURCE_DIR}/storage/fleet/agent_role.sql"
        DESTINATION share/doc/certbridge)

# Debian wants the changelog compressed, reproducibly (no name or time stamp in the gzip header).
set(changelog_gz "${CMAKE_CURRENT_BINARY_DIR}/changelog.gz")
add_custom_command(OUTPUT "${changelog_gz}"
  COMMAND gzip -9nc "${installers}/changelog" > "${changelog_gz}"
  DEPENDS "${installers}/changelog")
add_custom_target(certbridge_changelog ALL DEPENDS "${changelog_gz}")
install(FILES "${changelog_gz}" DESTINATION share/doc/certbridge)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME certbridge)
set(CPACK_PACKAGE_VERSION "${PROJECT_VERSION}")
set(CPACK_PACKAGE_CONTACT "certbridge developers <certbridge@example.org>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "nginx client-certificate (mTLS) trust from the OS certificate store")
set(CPACK_PACKAGE_DESCRIPTION
    "certbridge reads client CAs, client certificates and CRLs from an NSS\n\
database, keeps them in SQLite, writes the files nginx's\n\
ssl_client_certificate, ssl_crl and an allow-list map need, and reloads nginx\n\
after nginx -t accepts them. A web page on 127.0.0.1 shows what expires when\n\
and manages the trusted-client list.")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "nginx, libnss3-tools")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    "${installers}/postinst;${installers}/prerm;${installers}/postrm;${installers}/conffiles")
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)
