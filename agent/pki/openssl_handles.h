#pragma once

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>
#include <string>

namespace certbridge::agent {

struct OpenSslDeleter {
  void operator()(X509* value) const { X509_free(value); }
  void operator()(X509_CRL* value) const { X509_CRL_free(value); }
  void operator()(EVP_PKEY* value) const { EVP_PKEY_free(value); }
  void operator()(BIO* value) const { BIO_free_all(value); }
  void operator()(BIGNUM* value) const { BN_free(value); }
  void operator()(EXTENDED_KEY_USAGE* value) const { EXTENDED_KEY_USAGE_free(value); }
  void operator()(CRL_DIST_POINTS* value) const { CRL_DIST_POINTS_free(value); }
  void operator()(BASIC_CONSTRAINTS* value) const { BASIC_CONSTRAINTS_free(value); }
  void operator()(X509_NAME* value) const { X509_NAME_free(value); }
  void operator()(X509_ALGOR* value) const { X509_ALGOR_free(value); }
  void operator()(ASN1_TIME* value) const { ASN1_TIME_free(value); }
  void operator()(ASN1_OBJECT* value) const { ASN1_OBJECT_free(value); }
  void operator()(EVP_MD_CTX* value) const { EVP_MD_CTX_free(value); }
  void operator()(char* value) const { OPENSSL_free(value); }
};

using X509Ptr = std::unique_ptr<X509, OpenSslDeleter>;
using X509CrlPtr = std::unique_ptr<X509_CRL, OpenSslDeleter>;
using EvpPkeyPtr = std::unique_ptr<EVP_PKEY, OpenSslDeleter>;
using BioPtr = std::unique_ptr<BIO, OpenSslDeleter>;
using BignumPtr = std::unique_ptr<BIGNUM, OpenSslDeleter>;
using ExtendedKeyUsagePtr = std::unique_ptr<EXTENDED_KEY_USAGE, OpenSslDeleter>;
using CrlDistPointsPtr = std::unique_ptr<CRL_DIST_POINTS, OpenSslDeleter>;
using BasicConstraintsPtr = std::unique_ptr<BASIC_CONSTRAINTS, OpenSslDeleter>;
using X509NamePtr = std::unique_ptr<X509_NAME, OpenSslDeleter>;
using X509AlgorPtr = std::unique_ptr<X509_ALGOR, OpenSslDeleter>;
using Asn1TimePtr = std::unique_ptr<ASN1_TIME, OpenSslDeleter>;
using Asn1ObjectPtr = std::unique_ptr<ASN1_OBJECT, OpenSslDeleter>;
using EvpMdCtxPtr = std::unique_ptr<EVP_MD_CTX, OpenSslDeleter>;
using OpenSslStringPtr = std::unique_ptr<char, OpenSslDeleter>;

// Drains OpenSSL's error queue into one line, e.g. "asn1 encoding routines::too long".
inline std::string takeOpenSslErrors() {
  std::string text;
  for (unsigned long code = ERR_get_error(); code != 0; code = ERR_get_error()) {
    char buffer[256];
    ERR_error_string_n(code, buffer, sizeof(buffer));
    if (!text.empty()) {
      text += "; ";
    }
    text += buffer;
  }
  return text.empty() ? "no detail from OpenSSL" : text;
}

}  // namespace certbridge::agent
