#include "agent/pki/certificate.h"

#include <openssl/pem.h>
#include <openssl/sha.h>

#include <ctime>

#include "agent/pki/der_reader.h"
#include "storage/serial_number.h"

namespace certbridge::agent {
namespace {

std::int64_t requireTime(const ASN1_TIME* time, const std::string& origin, const char* which) {
  const std::optional<std::int64_t> unix_time = toUnixTime(time);
  if (!unix_time) {
    throw CertificateError(origin + ": unreadable " + which + " date");
  }
  return *unix_time;
}

// The canonical serial text (storage/serial_number.h) from OpenSSL's sign-and-magnitude form.
std::string serialText(const ASN1_INTEGER* serial) {
  return storage::serialText(ASN1_STRING_type(serial) == V_ASN1_NEG_INTEGER,
                             std::span(ASN1_STRING_get0_data(serial),
                                       static_cast<std::size_t>(ASN1_STRING_length(serial))));
}

std::string describeKey(X509* x509) {
  const EVP_PKEY* key = X509_get0_pubkey(x509);
  if (key == nullptr) {
    return "unknown";
  }
  const int bits = EVP_PKEY_get_bits(key);
  switch (EVP_PKEY_get_base_id(key)) {
    case EVP_PKEY_RSA: return "RSA " + std::to_string(bits);
    case EVP_PKEY_EC: {
      char group[64] = {};
      std::size_t length = 0;
      if (EVP_PKEY_get_group_name(key, group, sizeof(group), &length) == 1) {
        return std::string("EC ") + group;
      }
      return "EC " + std::to_string(bits);
    }
    case EVP_PKEY_ED25519: return "Ed25519";
    case EVP_PKEY_ED448: return "Ed448";
    default: return std::string(OBJ_nid2sn(EVP_PKEY_get_base_id(key))) + " " + std::to_string(bits);
  }
}

std::string crlDistributionPoints(X509* x509) {
  const CrlDistPointsPtr points(static_cast<CRL_DIST_POINTS*>(
      X509_get_ext_d2i(x509, NID_crl_distribution_points, nullptr, nullptr)));
  std::string urls;
  for (int i = 0; points && i < sk_DIST_POINT_num(points.get()); ++i) {
    const DIST_POINT* point = sk_DIST_POINT_value(points.get(), i);
    if (point->distpoint == nullptr || point->distpoint->type != 0) {
      continue;  // only full names carry URLs
    }
    const GENERAL_NAMES* names = point->distpoint->name.fullname;
    for (int j = 0; j < sk_GENERAL_NAME_num(names); ++j) {
      const GENERAL_NAME* name = sk_GENERAL_NAME_value(names, j);
      if (name->type == GEN_URI) {
        const ASN1_IA5STRING* uri = name->d.uniformResourceIdentifier;
        urls += (urls.empty() ? "" : " ") +
                std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(uri)),
                            static_cast<std::size_t>(ASN1_STRING_length(uri)));
      }
    }
  }
  return urls;
}

}  // namespace

std::string nameToString(const X509_NAME* name) {
  const BioPtr bio(BIO_new(BIO_s_mem()));
  X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);
  char* data = nullptr;
  const long length = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(length));
}

std::string commonName(const X509_NAME* name) {
  int index = -1;
  for (int next = X509_NAME_get_index_by_NID(name, NID_commonName, -1); next >= 0;
       next = X509_NAME_get_index_by_NID(name, NID_commonName, next)) {
    index = next;
  }
  if (index < 0) {
    return "";
  }
  unsigned char* utf8 = nullptr;
  const int length =
      ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, index)));
  if (length < 0) {
    return "";
  }
  const OpenSslStringPtr owned(reinterpret_cast<char*>(utf8));
  return std::string(owned.get(), static_cast<std::size_t>(length));
}

std::optional<std::int64_t> toUnixTime(const ASN1_TIME* time) {
  // The difference from the epoch, in OpenSSL's own arithmetic: portable (no timegm on
  // Windows) and right past 2038.
  const Asn1TimePtr epoch(ASN1_TIME_set(nullptr, 0));
  int days = 0;
  int seconds = 0;
  if (time == nullptr || !epoch || ASN1_TIME_diff(&days, &seconds, epoch.get(), time) != 1) {
    return std::nullopt;
  }
  return static_cast<std::int64_t>(days) * 86400 + seconds;
}

std::optional<RawNames> rawNames(std::span<const unsigned char> der) {
  try {
    DerReader outer(der);
    DerReader certificate(outer.read(kDerSequence, "certificate").contents);
    DerReader tbs(certificate.read(kDerSequence, "tbsCertificate").contents);
    if (tbs.peekTag() == kDerContext0) {
      tbs.read(kDerContext0, "version");
    }
    tbs.read(kDerInteger, "serialNumber");
    tbs.read(kDerSequence, "signature");
    RawNames names;
    names.issuer = tbs.read(kDerSequence, "issuer").encoded;
    tbs.read(kDerSequence, "validity");
    names.subject = tbs.read(kDerSequence, "subject").encoded;
    return names;
  } catch (const DerError&) {
    return std::nullopt;
  }
}

Certificate Certificate::fromDer(std::span<const unsigned char> der, const std::string& origin) {
  const unsigned char* cursor = der.data();
  X509Ptr x509(d2i_X509(nullptr, &cursor, static_cast<long>(der.size())));
  if (!x509) {
    throw CertificateError(origin + ": not a valid DER certificate (" + takeOpenSslErrors() + ")");
  }
  if (cursor != der.data() + der.size()) {
    throw CertificateError(origin + ": " + std::to_string(der.data() + der.size() - cursor) +
                           " stray bytes after the certificate");
  }
  // Extensions OpenSSL could not decode would silently change CA and key-usage answers.
  if ((X509_get_extension_flags(x509.get()) & EXFLAG_INVALID) != 0) {
    throw CertificateError(origin + ": certificate has malformed extensions (" +
                           takeOpenSslErrors() + ")");
  }
  Certificate certificate(std::move(x509), der);
  const auto& record = certificate.record_;
  certificate.record_.not_before =
      requireTime(X509_get0_notBefore(certificate.get()), origin, "notBefore");
  certificate.record_.not_after =
      requireTime(X509_get0_notAfter(certificate.get()), origin, "notAfter");
  if (record.subject.empty() && record.issuer.empty()) {
    throw CertificateError(origin + ": certificate has neither subject nor issuer");
  }
  return certificate;
}

std::vector<Certificate> Certificate::fromPem(const std::string& pem, const std::string& origin) {
  const BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  std::vector<Certificate> certificates;
  for (;;) {
    X509Ptr x509(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
    if (!x509) {
      const unsigned long error = ERR_peek_last_error();
      if (ERR_GET_REASON(error) == PEM_R_NO_START_LINE && !certificates.empty()) {
        ERR_clear_error();
        break;
      }
      throw CertificateError(origin + ": certificate " + std::to_string(certificates.size() + 1) +
                             " is not valid PEM (" + takeOpenSslErrors() + ")");
    }
    unsigned char* der = nullptr;
    const int length = i2d_X509(x509.get(), &der);
    const OpenSslStringPtr owned(reinterpret_cast<char*>(der));
    certificates.push_back(fromDer(std::span(der, static_cast<std::size_t>(length)), origin));
  }
  return certificates;
}

Certificate::Certificate(X509Ptr x509, std::span<const unsigned char> der)
    : x509_(std::move(x509)) {
  X509* cert = x509_.get();
  storage::CertificateRecord& record = record_;
  record.der.assign(der.begin(), der.end());

  record.sha256 = sha256Hex(der);
  unsigned char sha1[SHA_DIGEST_LENGTH];
  SHA1(der.data(), der.size(), sha1);
  record.sha1 = toHex(sha1);

  record.subject = nameToString(X509_get_subject_name(cert));
  record.issuer = nameToString(X509_get_issuer_name(cert));
  record.serial = serialText(X509_get0_serialNumber(cert));
  record.key_type = describeKey(cert);
  record.crl_distribution_points = crlDistributionPoints(cert);

  // X509_check_ca caches the extensions; it answers 1 for basicConstraints CA:TRUE.
  record.is_ca = X509_check_ca(cert) == 1;
  self_signed_ = X509_check_issued(cert, cert) == X509_V_OK;

  const ExtendedKeyUsagePtr usage(static_cast<EXTENDED_KEY_USAGE*>(
      X509_get_ext_d2i(cert, NID_ext_key_usage, nullptr, nullptr)));
  client_auth_ = !usage;
  for (int i = 0; usage && i < sk_ASN1_OBJECT_num(usage.get()); ++i) {
    const int nid = OBJ_obj2nid(sk_ASN1_OBJECT_value(usage.get(), i));
    client_auth_ = client_auth_ || nid == NID_client_auth || nid == NID_anyExtendedKeyUsage;
    char name[80];
    if (nid != NID_undef) {
      std::snprintf(name, sizeof(name), "%s", OBJ_nid2sn(nid));
    } else {
      OBJ_obj2txt(name, sizeof(name), sk_ASN1_OBJECT_value(usage.get(), i), 1);
    }
    record.extended_key_usage += (i == 0 ? "" : ",") + std::string(name);
  }
}

bool Certificate::isIssuedBy(const Certificate& issuer) const {
  if (X509_check_issued(issuer.get(), x509_.get()) != X509_V_OK) {
    return false;
  }
  EVP_PKEY* key = X509_get0_pubkey(issuer.get());
  const bool verified = key != nullptr && X509_verify(x509_.get(), key) == 1;
  ERR_clear_error();
  return verified;
}

std::string Certificate::toPem() const {
  const BioPtr bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509(bio.get(), x509_.get());
  char* data = nullptr;
  const long length = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(length));
}

}  // namespace certbridge::agent
