#include "agent/doctor/tls_probe.h"

#include <Poco/Exception.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/Net/StreamSocket.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>

#include <memory>
#include <stdexcept>

#include "agent/pki/certificate.h"
#include "agent/pki/openssl_handles.h"

namespace certbridge::agent {
namespace {

struct SslDeleter {
  void operator()(SSL_CTX* value) const { SSL_CTX_free(value); }
  void operator()(SSL* value) const { SSL_free(value); }
};
using SslCtxPtr = std::unique_ptr<SSL_CTX, SslDeleter>;
using SslPtr = std::unique_ptr<SSL, SslDeleter>;

constexpr std::size_t kMaxResponse = 64 * 1024;

// OpenSSL calls this on the client when the server sends a CertificateRequest.
extern "C" int noteCertificateRequest(SSL* /*ssl*/, void* argument) {
  static_cast<TlsProbeResult*>(argument)->certificate_requested = true;
  return 1;
}

// Refuses to prompt for a passphrase on the terminal: doctor takes unencrypted keys only.
extern "C" int noPassphrase(char* /*buffer*/, int /*size*/, int /*rwflag*/, void* /*data*/) {
  return -1;
}

void useClientCertificate(SSL_CTX* context, const TlsProbeRequest& request) {
  if (SSL_CTX_use_certificate_chain_file(context, request.client_certificate.c_str()) != 1) {
    throw std::runtime_error("cannot read the client certificate " + request.client_certificate +
                             ": " + takeOpenSslErrors());
  }
  const BioPtr file(BIO_new_file(request.client_key.c_str(), "r"));
  const EvpPkeyPtr key(file ? PEM_read_bio_PrivateKey(file.get(), nullptr, noPassphrase, nullptr)
                            : nullptr);
  if (!key) {
    throw std::runtime_error("cannot read the client key " + request.client_key +
                             " (an unencrypted PEM private key is needed): " + takeOpenSslErrors());
  }
  if (SSL_CTX_use_PrivateKey(context, key.get()) != 1 || SSL_CTX_check_private_key(context) != 1) {
    throw std::runtime_error("the client key " + request.client_key +
                             " does not belong to the certificate " + request.client_certificate);
  }
}

std::string httpReason(const std::string& response) {
  const std::size_t open = response.find("<title>");
  const std::size_t close = response.find("</title>");
  if (open == std::string::npos || close == std::string::npos || close < open) {
    return "";
  }
  std::string title = response.substr(open + 7, close - open - 7);
  // nginx's titles read "400 The SSL certificate error": the status is reported separately.
  const std::size_t space = title.find(' ');
  return space == 3 ? title.substr(4) : title;
}

}  // namespace

TlsProbeResult probeTls(const TlsProbeRequest& request) {
  TlsProbeResult result;
  const SslCtxPtr context(SSL_CTX_new(TLS_client_method()));
  if (!context) {
    throw std::runtime_error("cannot create a TLS context: " + takeOpenSslErrors());
  }
  SSL_CTX_set_verify(context.get(), SSL_VERIFY_NONE, nullptr);
  SSL_CTX_set_cert_cb(context.get(), noteCertificateRequest, &result);
  if (!request.client_certificate.empty()) {
    useClientCertificate(context.get(), request);
  }

  Poco::Net::StreamSocket socket;
  try {
    const Poco::Timespan timeout(static_cast<long>(request.timeout.count()), 0);
    socket.connect(Poco::Net::SocketAddress(request.host, static_cast<Poco::UInt16>(request.port)),
                   timeout);
    socket.setReceiveTimeout(timeout);
    socket.setSendTimeout(timeout);
  } catch (const Poco::Exception& error) {
    result.error = "cannot connect to " + request.host + ":" + std::to_string(request.port) + ": " +
                   error.displayText();
    return result;
  }
  const SslPtr ssl(SSL_new(context.get()));
  SSL_set_fd(ssl.get(), static_cast<int>(socket.impl()->sockfd()));
  const std::string host = request.server_name.empty() ? request.host : request.server_name;
  if (!request.server_name.empty()) {
    // SSL_set_tlsext_host_name, without the macro's C cast.
    SSL_ctrl(ssl.get(), SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
             const_cast<char*>(request.server_name.c_str()));
  }
  if (SSL_connect(ssl.get()) != 1) {
    result.error = "TLS handshake failed: " + takeOpenSslErrors();
    return result;
  }
  result.protocol = SSL_get_version(ssl.get());
  if (const STACK_OF(X509_NAME)* names = SSL_get0_peer_CA_list(ssl.get()); names != nullptr) {
    for (int i = 0; i < sk_X509_NAME_num(names); ++i) {
      result.ca_names.push_back(nameToString(sk_X509_NAME_value(names, i)));
    }
  }

  const std::string http_request =
      "GET / HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n\r\n";
  if (SSL_write(ssl.get(), http_request.data(), static_cast<int>(http_request.size())) <= 0) {
    result.error = "the server closed the connection after the handshake: " + takeOpenSslErrors();
    return result;
  }
  std::string response;
  char buffer[4096];
  for (int read = 0; response.size() < kMaxResponse &&
                     (read = SSL_read(ssl.get(), buffer, static_cast<int>(sizeof(buffer)))) > 0;) {
    response.append(buffer, static_cast<std::size_t>(read));
  }
  ERR_clear_error();
  if (response.starts_with("HTTP/1.") && response.size() >= 12) {
    result.http_status = std::atoi(response.c_str() + 9);
    result.http_reason = httpReason(response);
  } else {
    result.error = "the server sent no HTTP answer after the handshake (TLS alert or closed)";
  }
  return result;
}

}  // namespace certbridge::agent
