#include "tests/support/test_pki.h"

#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <openssl/x509v3.h>

#include <ctime>
#include <stdexcept>

#include "agent/pki/openssl_handles.h"

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

// A P-256 key whose private scalar is SHA-256(seed), so that benchmark data is the same each run.
EVP_PKEY* seededKey(std::uint64_t seed) {
  unsigned char digest[32];
  SHA256(reinterpret_cast<const unsigned char*>(&seed), sizeof(seed), digest);
  const std::unique_ptr<EC_GROUP, decltype(&EC_GROUP_free)> group(
      EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1), &EC_GROUP_free);
  const agent::BignumPtr order(BN_new());
  const agent::BignumPtr scalar(BN_bin2bn(digest, sizeof(digest), nullptr));
  const std::unique_ptr<BN_CTX, decltype(&BN_CTX_free)> context(BN_CTX_new(), &BN_CTX_free);
  check(EC_GROUP_get_order(group.get(), order.get(), context.get()), "curve order");
  check(BN_mod(scalar.get(), scalar.get(), order.get(), context.get()), "scalar");
  const std::unique_ptr<EC_POINT, decltype(&EC_POINT_free)> point(EC_POINT_new(group.get()),
                                                                  &EC_POINT_free);
  check(EC_POINT_mul(group.get(), point.get(), scalar.get(), nullptr, nullptr, context.get()),
        "public key");
  unsigned char public_key[65];
  const std::size_t public_length =
      EC_POINT_point2oct(group.get(), point.get(), POINT_CONVERSION_UNCOMPRESSED, public_key,
                         sizeof(public_key), context.get());
  const std::unique_ptr<OSSL_PARAM_BLD, decltype(&OSSL_PARAM_BLD_free)> builder(
      OSSL_PARAM_BLD_new(), &OSSL_PARAM_BLD_free);
  OSSL_PARAM_BLD_push_utf8_string(builder.get(), OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0);
  OSSL_PARAM_BLD_push_BN(builder.get(), OSSL_PKEY_PARAM_PRIV_KEY, scalar.get());
  OSSL_PARAM_BLD_push_octet_string(builder.get(), OSSL_PKEY_PARAM_PUB_KEY, public_key,
                                   public_length);
  const std::unique_ptr<OSSL_PARAM, decltype(&OSSL_PARAM_free)> params(
      OSSL_PARAM_BLD_to_param(builder.get()), &OSSL_PARAM_free);
  const std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)> key_context(
      EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr), &EVP_PKEY_CTX_free);
  EVP_PKEY* key = nullptr;
  check(EVP_PKEY_fromdata_init(key_context.get()), "key init");
  check(EVP_PKEY_fromdata(key_context.get(), &key, EVP_PKEY_KEYPAIR, params.get()), "key");
  return key;
}

}  // namespace

TestCertificate TestCertificate::issue(const CertificateSpec& spec, const TestCertificate* issuer) {
  TestCertificate result;
  result.key_.reset(spec.key_seed ? seededKey(*spec.key_seed) : EVP_EC_gen("P-256"));
  check(result.key_ != nullptr, "key generation");
  result.certificate_.reset(X509_new());
  X509* certificate = result.certificate_.get();
  check(X509_set_version(certificate, 2), "version");

  unsigned char serial_bytes[8];
  check(RAND_bytes(serial_bytes, sizeof(serial_bytes)), "serial");
  for (int i = 0; spec.serial && i < 8; ++i) {
    serial_bytes[i] = static_cast<unsigned char>(*spec.serial >> (56 - 8 * i));
  }
  serial_bytes[0] &= 0x7f;
  agent::BignumPtr serial(BN_bin2bn(serial_bytes, sizeof(serial_bytes), nullptr));
  if (!spec.serial_hex.empty()) {
    BIGNUM* exact = nullptr;
    check(BN_hex2bn(&exact, spec.serial_hex.c_str()), "serial_hex");
    serial.reset(exact);
  }
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

TestCertificate TestCertificate::fromPem(const std::string& certificate_pem,
                                         const std::string& key_pem) {
  TestCertificate result;
  const agent::BioPtr certificate_bio(
      BIO_new_mem_buf(certificate_pem.data(), static_cast<int>(certificate_pem.size())));
  result.certificate_.reset(PEM_read_bio_X509(certificate_bio.get(), nullptr, nullptr, nullptr));
  check(result.certificate_ != nullptr, "reading the certificate PEM");
  const agent::BioPtr key_bio(BIO_new_mem_buf(key_pem.data(), static_cast<int>(key_pem.size())));
  result.key_.reset(PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr));
  check(result.key_ != nullptr, "reading the key PEM");
  return result;
}

namespace {

using ExtensionPtr = std::unique_ptr<X509_EXTENSION, decltype(&X509_EXTENSION_free)>;

ExtensionPtr rawExtension(const RawExtension& raw) {
  const std::unique_ptr<ASN1_OBJECT, decltype(&ASN1_OBJECT_free)> oid(
      OBJ_txt2obj(raw.oid.c_str(), 1), &ASN1_OBJECT_free);
  check(oid != nullptr, "extension OID");
  const std::unique_ptr<ASN1_OCTET_STRING, decltype(&ASN1_OCTET_STRING_free)> value(
      ASN1_OCTET_STRING_new(), &ASN1_OCTET_STRING_free);
  check(ASN1_OCTET_STRING_set(value.get(), raw.value.data(), static_cast<int>(raw.value.size())),
        "extension value");
  ExtensionPtr extension(
      X509_EXTENSION_create_by_OBJ(nullptr, oid.get(), raw.critical ? 1 : 0, value.get()),
      &X509_EXTENSION_free);
  check(extension != nullptr, "extension");
  return extension;
}

}  // namespace

std::vector<unsigned char> TestCertificate::crlDer(const CrlSpec& spec) const {
  const agent::X509CrlPtr crl(X509_CRL_new());
  check(X509_CRL_set_version(crl.get(), 1), "CRL version");
  check(X509_CRL_set_issuer_name(crl.get(), X509_get_subject_name(certificate_.get())),
        "CRL issuer");
  const agent::Asn1TimePtr this_update(
      X509_gmtime_adj(nullptr, static_cast<long>(spec.this_update_offset)));
  const agent::Asn1TimePtr next_update(
      X509_gmtime_adj(nullptr, static_cast<long>(spec.next_update_offset)));
  check(X509_CRL_set1_lastUpdate(crl.get(), this_update.get()), "thisUpdate");
  check(X509_CRL_set1_nextUpdate(crl.get(), next_update.get()), "nextUpdate");
  for (const std::string& serial_hex : spec.revoked_serials) {
    X509_REVOKED* revoked = X509_REVOKED_new();
    BIGNUM* number = nullptr;
    check(BN_hex2bn(&number, serial_hex.c_str()), "serial");
    const agent::BignumPtr owned(number);
    const std::unique_ptr<ASN1_INTEGER, decltype(&ASN1_INTEGER_free)> serial(
        BN_to_ASN1_INTEGER(number, nullptr), &ASN1_INTEGER_free);
    X509_REVOKED_set_serialNumber(revoked, serial.get());
    X509_REVOKED_set_revocationDate(revoked, this_update.get());
    for (const RawExtension& raw : spec.entry_extensions) {
      check(X509_REVOKED_add_ext(revoked, rawExtension(raw).get(), -1), "entry extension");
    }
    check(X509_CRL_add0_revoked(crl.get(), revoked), "revoked entry");  // takes ownership
  }
  if (spec.number > 0) {
    const std::unique_ptr<ASN1_INTEGER, decltype(&ASN1_INTEGER_free)> number(ASN1_INTEGER_new(),
                                                                             &ASN1_INTEGER_free);
    ASN1_INTEGER_set_int64(number.get(), spec.number);
    check(X509_CRL_add1_ext_i2d(crl.get(), NID_crl_number, number.get(), 0, 0), "crlNumber");
  }
  for (const RawExtension& raw : spec.extensions) {
    check(X509_CRL_add_ext(crl.get(), rawExtension(raw).get(), -1), "CRL extension");
  }
  check(X509_CRL_sort(crl.get()), "sort");
  check(X509_CRL_sign(crl.get(), key_.get(), EVP_sha256()), "CRL signing");
  unsigned char* data = nullptr;
  const int length = i2d_X509_CRL(crl.get(), &data);
  const agent::OpenSslStringPtr owned(reinterpret_cast<char*>(data));
  return std::vector<unsigned char>(data, data + length);
}

namespace {

void appendLength(std::vector<unsigned char>& out, std::size_t length) {
  if (length < 0x80) {
    out.push_back(static_cast<unsigned char>(length));
    return;
  }
  unsigned char bytes[4];
  int count = 0;
  for (std::size_t rest = length; rest > 0; rest >>= 8) {
    bytes[count++] = static_cast<unsigned char>(rest & 0xff);
  }
  out.push_back(static_cast<unsigned char>(0x80 | count));
  while (count > 0) {
    out.push_back(bytes[--count]);
  }
}

std::vector<unsigned char> wrap(unsigned char tag, const std::vector<unsigned char>& contents) {
  std::vector<unsigned char> out{tag};
  appendLength(out, contents.size());
  out.insert(out.end(), contents.begin(), contents.end());
  return out;
}

void append(std::vector<unsigned char>& out, const std::vector<unsigned char>& more) {
  out.insert(out.end(), more.begin(), more.end());
}

std::vector<unsigned char> integer(std::uint64_t value) {
  std::vector<unsigned char> bytes;
  for (int shift = 56; shift >= 0; shift -= 8) {
    const auto byte = static_cast<unsigned char>(value >> shift);
    if (!bytes.empty() || byte != 0 || shift == 0) {
      if (bytes.empty() && (byte & 0x80) != 0) {
        bytes.push_back(0);
      }
      bytes.push_back(byte);
    }
  }
  return wrap(0x02, bytes);
}

std::vector<unsigned char> utcTime(std::int64_t offset) {
  const std::time_t when = std::time(nullptr) + offset;
  std::tm parts{};
  gmtime_r(&when, &parts);
  char text[16];
  std::strftime(text, sizeof(text), "%y%m%d%H%M%SZ", &parts);
  return wrap(0x17, std::vector<unsigned char>(text, text + 13));
}

}  // namespace

std::vector<unsigned char> TestCertificate::largeCrlDer(std::size_t count,
                                                        std::int64_t number) const {
  // ecdsa-with-SHA256, the algorithm every test key signs with.
  const std::vector<unsigned char> algorithm = {0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86,
                                                0x48, 0xce, 0x3d, 0x04, 0x03, 0x02};
  unsigned char* name_der = nullptr;
  const int name_length = i2d_X509_NAME(X509_get_subject_name(certificate_.get()), &name_der);
  const agent::OpenSslStringPtr owned_name(reinterpret_cast<char*>(name_der));

  const std::vector<unsigned char> revocation_date = utcTime(-3600);
  std::vector<unsigned char> entries;
  entries.reserve(count * 24);
  for (std::size_t serial = 1; serial <= count; ++serial) {
    std::vector<unsigned char> entry = integer(serial);
    append(entry, revocation_date);
    append(entries, wrap(0x30, entry));
  }

  std::vector<unsigned char> tbs = integer(1);
  append(tbs, algorithm);
  tbs.insert(tbs.end(), name_der, name_der + name_length);
  append(tbs, utcTime(-60));
  append(tbs, utcTime(86400));
  append(tbs, wrap(0x30, entries));
  entries = {};
  // crlExtensions [0] { Extension { cRLNumber, OCTET STRING { INTEGER } } }
  std::vector<unsigned char> extension = {0x06, 0x03, 0x55, 0x1d, 0x14};
  append(extension, wrap(0x04, integer(static_cast<std::uint64_t>(number))));
  append(tbs, wrap(0xa0, wrap(0x30, wrap(0x30, extension))));
  tbs = wrap(0x30, tbs);

  const agent::EvpMdCtxPtr context(EVP_MD_CTX_new());
  std::size_t signature_length = 0;
  check(EVP_DigestSignInit(context.get(), nullptr, EVP_sha256(), nullptr, key_.get()), "sign init");
  check(EVP_DigestSign(context.get(), nullptr, &signature_length, tbs.data(), tbs.size()),
        "sign size");
  std::vector<unsigned char> signature(signature_length + 1, 0);
  check(EVP_DigestSign(context.get(), signature.data() + 1, &signature_length, tbs.data(),
                       tbs.size()),
        "sign");
  signature.resize(signature_length + 1);

  std::vector<unsigned char> crl = std::move(tbs);
  append(crl, algorithm);
  append(crl, wrap(0x03, signature));
  return wrap(0x30, crl);
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
