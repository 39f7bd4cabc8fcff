#include "tests/support/test_pki.h"

#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include <stdexcept>

#include "agent/openssl_handles.h"

namespace certbridge::testing {
namespace {

void check(int ok, const char* what) {
  if (ok <= 0) {
    throw std::runtime_error(std::string("test PKI: ") + what + " failed");
  }
}

void addExtension(X509* certificate, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX context;
  X509V3_set_ctx_nodb(&context);
  X509V3_set_ctx(&context, issuer, certificate, nullptr, nullptr, 0);
  const std::unique_ptr<X509_EXTENSION, decltype(&X509_EXTENSION_free)> extension(
      X509V3_EXT_conf_nid(nullptr, &context, nid, value.c_str()), &X509_EXTENSION_free);
  check(extension != nullptr, "extension");
  check(X509_add_ext(certificate, extension.get(), -1), "add extension");
}

std::string bioText(const agent::BioPtr& bio) {
  char* data = nullptr;
  const long length = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(length));
}

}  // namespace

TestCertificate TestCertificate::issue(const CertificateSpec& spec, const TestCertificate* issuer) {
  TestCertificate result;
  result.key_.reset(EVP_EC_gen("P-256"));
  check(result.key_ != nullptr, "key generation");
  result.certificate_.reset(X509_new());
  X509* certificate = result.certificate_.get();
  check(X509_set_version(certificate, 2), "version");

  unsigned char serial_bytes[8];
  check(RAND_bytes(serial_bytes, sizeof(serial_bytes)), "serial");
  serial_bytes[0] &= 0x7f;
  const agent::BignumPtr serial(BN_bin2bn(serial_bytes, sizeof(serial_bytes), nullptr));
  BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(certificate));

  X509_gmtime_adj(X509_getm_notBefore(certificate), static_cast<long>(spec.not_before_offset));
  X509_gmtime_adj(X509_getm_notAfter(certificate), static_cast<long>(spec.not_after_offset));

  X509_NAME* name = X509_get_subject_name(certificate);
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>(spec.organization.c_str()), -1,
                             -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>(spec.common_name.c_str()), -1,
                             -1, 0);
  X509* issuer_certificate = issuer != nullptr ? issuer->get() : certificate;
  check(X509_set_issuer_name(certificate, X509_get_subject_name(issuer_certificate)), "issuer");
  check(X509_set_pubkey(certificate, result.key_.get()), "public key");

  addExtension(certificate, issuer_certificate, NID_basic_constraints,
               spec.ca ? "critical,CA:TRUE" : "CA:FALSE");
  addExtension(certificate, issuer_certificate, NID_key_usage,
               spec.ca ? "critical,keyCertSign,cRLSign" : "critical,digitalSignature");
  addExtension(certificate, issuer_certificate, NID_subject_key_identifier, "hash");
  if (!spec.extended_key_usage.empty()) {
    addExtension(certificate, issuer_certificate, NID_ext_key_usage, spec.extended_key_usage);
  }
  if (!spec.crl_distribution_point.empty()) {
    addExtension(certificate, issuer_certificate, NID_crl_distribution_points,
                 "URI:" + spec.crl_distribution_point);
  }
  EVP_PKEY* signing_key = issuer != nullptr ? issuer->key_.get() : result.key_.get();
  check(X509_sign(certificate, signing_key, EVP_sha256()), "signing");
  return result;
}

std::vector<unsigned char> TestCertificate::crlDer(
    const std::vector<std::string>& revoked_serials) const {
  const agent::X509CrlPtr crl(X509_CRL_new());
  check(X509_CRL_set_version(crl.get(), 1), "CRL version");
  check(X509_CRL_set_issuer_name(crl.get(), X509_get_subject_name(certificate_.get())),
        "CRL issuer");
  const std::unique_ptr<ASN1_TIME, decltype(&ASN1_TIME_free)> this_update(
      X509_gmtime_adj(nullptr, -60), &ASN1_TIME_free);
  const std::unique_ptr<ASN1_TIME, decltype(&ASN1_TIME_free)> next_update(
      X509_gmtime_adj(nullptr, 86400), &ASN1_TIME_free);
  check(X509_CRL_set1_lastUpdate(crl.get(), this_update.get()), "thisUpdate");
  check(X509_CRL_set1_nextUpdate(crl.get(), next_update.get()), "nextUpdate");
  for (const std::string& serial_hex : revoked_serials) {
    X509_REVOKED* revoked = X509_REVOKED_new();
    BIGNUM* number = nullptr;
    check(BN_hex2bn(&number, serial_hex.c_str()), "serial");
    const agent::BignumPtr owned(number);
    const std::unique_ptr<ASN1_INTEGER, decltype(&ASN1_INTEGER_free)> serial(
        BN_to_ASN1_INTEGER(number, nullptr), &ASN1_INTEGER_free);
    X509_REVOKED_set_serialNumber(revoked, serial.get());
    X509_REVOKED_set_revocationDate(revoked, this_update.get());
    check(X509_CRL_add0_revoked(crl.get(), revoked), "revoked entry");  // takes ownership
  }
  check(X509_CRL_sort(crl.get()), "sort");
  check(X509_CRL_sign(crl.get(), key_.get(), EVP_sha256()), "CRL signing");
  unsigned char* data = nullptr;
  const int length = i2d_X509_CRL(crl.get(), &data);
  const agent::OpenSslStringPtr owned(reinterpret_cast<char*>(data));
  return std::vector<unsigned char>(data, data + length);
}

std::vector<unsigned char> TestCertificate::der() const {
  unsigned char* data = nullptr;
  const int length = i2d_X509(certificate_.get(), &data);
  const agent::OpenSslStringPtr owned(reinterpret_cast<char*>(data));
  return std::vector<unsigned char>(data, data + length);
}

std::string TestCertificate::pem() const {
  const agent::BioPtr bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509(bio.get(), certificate_.get());
  return bioText(bio);
}

std::string TestCertificate::keyPem() const {
  const agent::BioPtr bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_PrivateKey(bio.get(), key_.get(), nullptr, nullptr, 0, nullptr, nullptr);
  return bioText(bio);
}

}  // namespace certbridge::testing
