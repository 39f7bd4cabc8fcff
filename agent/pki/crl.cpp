#include "agent/pki/crl.h"

#include <openssl/evp.h>
#include <openssl/objects.h>

#include <algorithm>
#include <string_view>

#include "agent/pki/der_reader.h"
#include "storage/serial_number.h"

namespace certbridge::agent {
namespace {

// Extension OIDs (DER contents of the OBJECT IDENTIFIER) that certbridge looks at.
constexpr unsigned char kCrlNumberOid[] = {0x55, 0x1d, 0x14};                 // 2.5.29.20
constexpr unsigned char kDeltaCrlIndicatorOid[] = {0x55, 0x1d, 0x1b};         // 2.5.29.27
constexpr unsigned char kIssuingDistributionPointOid[] = {0x55, 0x1d, 0x1c};  // 2.5.29.28
constexpr unsigned char kAuthorityKeyIdentifierOid[] = {0x55, 0x1d, 0x23};    // 2.5.29.35
constexpr unsigned char kCertificateIssuerOid[] = {0x55, 0x1d, 0x1d};         // 2.5.29.29

constexpr unsigned char kDerBoolean = 0x01;

bool sameBytes(std::span<const unsigned char> left, std::span<const unsigned char> right) {
  return std::equal(left.begin(), left.end(), right.begin(), right.end());
}

// The magnitude of a DER INTEGER in upper-case hex, as OpenSSL's BN_bn2hex prints serials.
std::string integerToHex(std::span<const unsigned char> contents) {
  std::size_t first = 0;
  while (first + 1 < contents.size() && contents[first] == 0) {
    ++first;
  }
  if (contents.empty() || (contents.size() - first == 1 && contents[first] == 0)) {
    return "0";
  }
  return toHex(contents.subspan(first), storage::HexCase::kUpper);
}

std::int64_t readTime(const DerElement& element, const std::string& origin, const char* which) {
  const unsigned char* cursor = element.encoded.data();
  const Asn1TimePtr time(
      d2i_ASN1_TIME(nullptr, &cursor, static_cast<long>(element.encoded.size())));
  const std::optional<std::int64_t> unix_time = toUnixTime(time.get());
  if (!unix_time) {
    throw CrlError(origin + ": unreadable " + which);
  }
  return *unix_time;
}

bool isTime(unsigned char tag) {
  return tag == kDerUtcTime || tag == kDerGeneralizedTime;
}

// "2.5.29.20 (X509v3 CRL Number)": the dotted OID, and OpenSSL's name for it when it has one.
std::string describeOid(const DerElement& oid) {
  const unsigned char* cursor = oid.encoded.data();
  const Asn1ObjectPtr object(
      d2i_ASN1_OBJECT(nullptr, &cursor, static_cast<long>(oid.encoded.size())));
  if (!object) {
    ERR_clear_error();
    return "(unreadable OID " + toHex(oid.contents) + ")";
  }
  char dotted[128] = {};
  OBJ_obj2txt(dotted, sizeof(dotted), object.get(), 1);
  const int nid = OBJ_obj2nid(object.get());
  return std::string(dotted) + (nid == NID_undef ? "" : std::string(" (") + OBJ_nid2ln(nid) + ")");
}

// One Extension of a CRL or of a CRL entry.
struct Extension {
  DerElement oid;
  bool critical = false;
  std::span<const unsigned char> value;  // the contents of extnValue
};

// Reads a SEQUENCE OF Extension's contents; throws DerError for a malformed or repeated one.
std::vector<Extension> readExtensions(std::span<const unsigned char> sequence_contents) {
  std::vector<Extension> extensions;
  DerReader reader(sequence_contents);
  while (!reader.atEnd()) {
    DerReader fields(reader.read(kDerSequence, "Extension").contents);
    Extension extension;
    extension.oid = fields.read(kDerOid, "extnID");
    if (fields.peekTag() == kDerBoolean) {
      const DerElement critical = fields.read(kDerBoolean, "critical");
      extension.critical = critical.contents.size() == 1 && critical.contents[0] != 0;
    }
    extension.value = fields.read(kDerOctetString, "extnValue").contents;
    if (!fields.atEnd()) {
      throw DerError("unexpected fields in extension " + describeOid(extension.oid));
    }
    extensions.push_back(extension);
  }
  // RFC 5280 4.2: no extension twice. Sorted, so that a hostile list costs n log n, not n².
  std::vector<const Extension*> by_oid;
  by_oid.reserve(extensions.size());
  for (const Extension& extension : extensions) {
    by_oid.push_back(&extension);
  }
  const auto oidLess = [](const Extension* left, const Extension* right) {
    return std::lexicographical_compare(left->oid.contents.begin(), left->oid.contents.end(),
                                        right->oid.contents.begin(), right->oid.contents.end());
  };
  std::sort(by_oid.begin(), by_oid.end(), oidLess);
  for (std::size_t i = 1; i < by_oid.size(); ++i) {
    if (sameBytes(by_oid[i - 1]->oid.contents, by_oid[i]->oid.contents)) {
      throw DerError("extension " + describeOid(by_oid[i]->oid) + " appears twice");
    }
  }
  return extensions;
}

// A CRL whose issuingDistributionPoint limits its scope covers only part of what the CA issued
// (RFC 5280 5.2.5): it cannot be the one CRL that decides on every certificate of that CA.
void refusePartialScope(std::span<const unsigned char> value, const std::string& origin) {
  DerReader outer(value);
  DerReader fields(outer.read(kDerSequence, "issuingDistributionPoint").contents);
  const auto flagSet = [&](const char* name) {
    const DerElement flag = fields.read(0, name);
    return flag.contents.size() != 1 || flag.contents[0] != 0;
  };
  while (!fields.atEnd()) {
    switch (fields.peekTag()) {
      case 0xa0:
        fields.read(0xa0, "distributionPoint");
        throw CrlError(origin +
                       ": is a partitioned CRL (its issuingDistributionPoint names a "
                       "distributionPoint scope); certbridge needs a complete CRL that covers "
                       "every certificate of the CA");
      case 0x81:
        if (flagSet("onlyContainsUserCerts")) {
          throw CrlError(origin +
                         ": is a partitioned CRL (issuingDistributionPoint onlyContainsUserCerts); "
                         "certbridge needs a complete CRL that covers every certificate of the CA");
        }
        break;
      case 0x82:
        if (flagSet("onlyContainsCACerts")) {
          throw CrlError(origin +
                         ": is a partitioned CRL (issuingDistributionPoint onlyContainsCACerts); "
                         "certbridge needs a complete CRL that covers every certificate of the CA");
        }
        break;
      case 0x83:
        fields.read(0x83, "onlySomeReasons");
        throw CrlError(origin +
                       ": is a partitioned CRL (issuingDistributionPoint onlySomeReasons); "
                       "certbridge needs a complete CRL that covers every reason");
      case 0x84:
        if (flagSet("indirectCRL")) {
          throw CrlError(origin +
                         ": is an indirect CRL (issuingDistributionPoint indirectCRL); "
                         "certbridge needs the CA's own CRL for its own certificates");
        }
        break;
      case 0x85:
        if (flagSet("onlyContainsAttributeCerts")) {
          throw CrlError(
              origin +
              ": is a partitioned CRL (issuingDistributionPoint onlyContainsAttributeCerts); "
              "certbridge needs a complete CRL that covers every certificate of the CA");
        }
        break;
      default:
        throw DerError("issuingDistributionPoint: unexpected tag " +
                       std::to_string(fields.peekTag()));
    }
  }
}

}  // namespace

Crl Crl::parse(std::span<const unsigned char> der, const std::string& origin) {
  Crl crl;
  crl.origin_ = origin;
  crl.der_ = der;
  try {
    DerReader outer(der);
    const DerElement certificate_list = outer.read(kDerSequence, "CertificateList");
    if (!outer.atEnd()) {
      throw DerError("stray bytes after the CRL");
    }
    DerReader list(certificate_list.contents);
    const DerElement tbs = list.read(kDerSequence, "tbsCertList");
    crl.tbs_ = tbs.encoded;
    crl.signature_algorithm_ = list.read(kDerSequence, "signatureAlgorithm").encoded;
    const DerElement signature = list.read(kDerBitString, "signatureValue");
    if (signature.contents.empty()) {
      throw CrlError(origin + ": malformed signature (an empty BIT STRING)");
    }
    if (signature.contents[0] != 0) {
      throw CrlError(origin + ": malformed signature (its BIT STRING has " +
                     std::to_string(signature.contents[0]) +
                     " unused bits; a signature is whole bytes)");
    }
    if (!list.atEnd()) {
      throw DerError("unexpected fields after the signature");
    }
    crl.signature_ = signature.contents.subspan(1);

    DerReader fields(tbs.contents);
    if (fields.peekTag() == kDerInteger) {
      const DerElement version = fields.read(kDerInteger, "version");
      // v2 (1); an explicit v1 (0) is not DER, but OpenSSL, and so nginx, reads it.
      if (version.contents.size() != 1 || version.contents[0] > 1) {
        throw DerError("unsupported CRL version (certbridge reads v1 and v2)");
      }
    }
    const DerElement inner_algorithm = fields.read(kDerSequence, "signature");
    if (!sameBytes(inner_algorithm.encoded, crl.signature_algorithm_)) {
      throw DerError("the signed and the outer signature algorithms differ");
    }
    const DerElement issuer = fields.read(kDerSequence, "issuer");
    const unsigned char* cursor = issuer.encoded.data();
    crl.issuer_name_.reset(
        d2i_X509_NAME(nullptr, &cursor, static_cast<long>(issuer.encoded.size())));
    if (!crl.issuer_name_) {
      throw DerError("unreadable issuer name");
    }
    crl.issuer_ = nameToString(crl.issuer_name_.get());
    crl.this_update_ = readTime(fields.read(0, "thisUpdate"), origin, "thisUpdate");
    if (isTime(fields.peekTag())) {
      crl.next_update_ = readTime(fields.read(0, "nextUpdate"), origin, "nextUpdate");
    }
    if (fields.peekTag() == kDerSequence) {
      crl.revoked_ = fields.read(kDerSequence, "revokedCertificates").contents;
    }
    if (fields.peekTag() == kDerContext0) {
      DerReader wrapper(fields.read(kDerContext0, "crlExtensions").contents);
      const std::vector<Extension> extensions =
          readExtensions(wrapper.read(kDerSequence, "Extensions").contents);
      if (!wrapper.atEnd()) {
        throw DerError("unexpected fields after the CRL extensions");
      }
      for (const Extension& extension : extensions) {
        const auto is = [&](std::span<const unsigned char> oid) {
          return sameBytes(extension.oid.contents, oid);
        };
        if (is(kDeltaCrlIndicatorOid)) {
          throw CrlError(origin + ": is a delta CRL; certbridge needs complete CRLs");
        }
        if (is(kIssuingDistributionPointOid)) {
          refusePartialScope(extension.value, origin);
        } else if (is(kCrlNumberOid) && !extension.critical) {
          DerReader number(extension.value);
          const DerElement value = number.read(kDerInteger, "cRLNumber");
          if (value.contents.empty() || (value.contents[0] & 0x80) != 0) {
            throw DerError("cRLNumber is not a non-negative INTEGER");
          }
          crl.number_ = integerToHex(value.contents);
        } else if (extension.critical && !is(kAuthorityKeyIdentifierOid)) {
          // Only what certbridge and nginx's OpenSSL both process may be critical; OpenSSL
          // rejects every client of the CA for any other ("unhandled critical CRL extension").
          throw CrlError(origin + ": has the critical CRL extension " + describeOid(extension.oid) +
                         ", which certbridge does not process; RFC 5280 says such a CRL must not "
                         "be used");
        }
      }
    }
    if (!fields.atEnd()) {
      throw DerError("unexpected fields after the CRL extensions");
    }
  } catch (const DerError& error) {
    throw CrlError(origin + ": not a valid CRL (" + error.what() + ")");
  }
  return crl;
}

bool Crl::isIssuedBy(const Certificate& ca) const {
  return X509_NAME_cmp(issuer_name_.get(), X509_get_subject_name(ca.get())) == 0;
}

void Crl::verifySignature(const Certificate& ca) const {
  const unsigned char* cursor = signature_algorithm_.data();
  const X509AlgorPtr algorithm(
      d2i_X509_ALGOR(nullptr, &cursor, static_cast<long>(signature_algorithm_.size())));
  const ASN1_OBJECT* oid = nullptr;
  if (algorithm) {
    X509_ALGOR_get0(&oid, nullptr, nullptr, algorithm.get());
  }
  int digest_nid = NID_undef;
  int key_nid = NID_undef;
  if (oid == nullptr || OBJ_find_sigid_algs(OBJ_obj2nid(oid), &digest_nid, &key_nid) != 1) {
    throw CrlError(origin_ + ": unsupported signature algorithm");
  }
  const EVP_MD* digest = digest_nid == NID_undef ? nullptr : EVP_get_digestbynid(digest_nid);
  EVP_PKEY* key = X509_get0_pubkey(ca.get());
  const EvpMdCtxPtr context(EVP_MD_CTX_new());
  const bool verified = key != nullptr && context &&
                        EVP_DigestVerifyInit(context.get(), nullptr, digest, nullptr, key) == 1 &&
                        EVP_DigestVerify(context.get(), signature_.data(), signature_.size(),
                                         tbs_.data(), tbs_.size()) == 1;
  if (!verified) {
    const std::string detail = takeOpenSslErrors();
    throw CrlError(origin_ + ": signature does not verify with the key of '" + ca.record().subject +
                   "' (" + detail + ")");
  }
}

std::size_t Crl::forEachRevokedSerial(const std::function<void(const std::string&)>& visit) const {
  std::size_t count = 0;
  const auto entryError = [&](const std::string& why) {
    return CrlError(origin_ + ": revoked entry " + std::to_string(count + 1) + " " + why);
  };
  try {
    DerReader entries(revoked_);
    while (!entries.atEnd()) {
      DerReader entry(entries.read(kDerSequence, "revoked entry").contents);
      const std::optional<std::string> serial =
          storage::serialFromDerInteger(entry.read(kDerInteger, "userCertificate").contents);
      if (!serial) {
        throw DerError("serial number is not a minimally encoded INTEGER");
      }
      if (!isTime(entry.peekTag())) {
        throw DerError("revocationDate is not a time");
      }
      entry.read(0, "revocationDate");
      if (!entry.atEnd()) {
        for (const Extension& extension :
             readExtensions(entry.read(kDerSequence, "crlEntryExtensions").contents)) {
          if (sameBytes(extension.oid.contents, kCertificateIssuerOid)) {
            throw entryError(
                "names another issuer (certificateIssuer): an indirect CRL; certbridge needs "
                "the CA's own CRL for its own certificates");
          }
          if (extension.critical) {
            throw entryError("has the critical entry extension " + describeOid(extension.oid) +
                             ", which certbridge does not process; RFC 5280 says such a CRL "
                             "must not be used");
          }
        }
      }
      if (!entry.atEnd()) {
        throw DerError("unexpected fields after the entry extensions");
      }
      visit(*serial);
      ++count;
    }
  } catch (const DerError& error) {
    throw entryError(std::string("is malformed (") + error.what() + ")");
  }
  return count;
}

std::vector<unsigned char> crlDerFromBytes(std::vector<unsigned char> bytes,
                                           const std::string& origin) {
  const std::string_view text(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  constexpr std::string_view kBegin = "-----BEGIN X509 CRL-----";
  constexpr std::string_view kEnd = "-----END X509 CRL-----";
  const auto begin = text.find(kBegin);
  if (begin == std::string_view::npos) {
    if (!bytes.empty() && bytes[0] == kDerSequence) {
      return bytes;
    }
    throw CrlError(origin + ": neither a DER CRL nor PEM with an X509 CRL block");
  }
  const auto end = text.find(kEnd, begin);
  if (end == std::string_view::npos) {
    throw CrlError(origin + ": PEM block has no END line");
  }
  std::string base64;
  for (const char c : text.substr(begin + kBegin.size(), end - begin - kBegin.size())) {
    if (c != '\n' && c != '\r' && c != ' ' && c != '\t') {
      base64.push_back(c);
    }
  }
  std::vector<unsigned char> der(base64.size() / 4 * 3 + 3);
  const int decoded =
      EVP_DecodeBlock(der.data(), reinterpret_cast<const unsigned char*>(base64.data()),
                      static_cast<int>(base64.size()));
  // EVP_DecodeBlock counts '=' padding as zero bytes. More than two '=' is not base64 (and "===="
  // would otherwise take the size below zero).
  std::size_t padding = 0;
  for (auto it = base64.rbegin(); it != base64.rend() && *it == '='; ++it) {
    ++padding;
  }
  if (decoded < 0 || base64.size() % 4 != 0 || padding > 2 ||
      padding > static_cast<std::size_t>(decoded)) {
    throw CrlError(origin + ": PEM block is not valid base64");
  }
  der.resize(static_cast<std::size_t>(decoded) - padding);
  return der;
}

void appendCrlPem(std::string& out, std::span<const unsigned char> der) {
  constexpr std::size_t kLineBytes = 48;  // 64 base64 characters
  out.reserve(out.size() + (der.size() / kLineBytes + 1) * 65 + 64);
  out += "-----BEGIN X509 CRL-----\n";
  unsigned char line[65];
  for (std::size_t offset = 0; offset < der.size(); offset += kLineBytes) {
    const std::size_t length = std::min(kLineBytes, der.size() - offset);
    const int written = EVP_EncodeBlock(line, der.data() + offset, static_cast<int>(length));
    out.append(reinterpret_cast<const char*>(line), static_cast<std::size_t>(written));
    out.push_back('\n');
  }
  out += "-----END X509 CRL-----\n";
}

std::string crlToPem(std::span<const unsigned char> der) {
  std::string pem;
  appendCrlPem(pem, der);
  return pem;
}

}  // namespace certbridge::agent
