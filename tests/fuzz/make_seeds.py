#!/usr/bin/env python3
"""Writes the seed inputs of tests/fuzz/corpus (committed; run again only to remake them).

Small certificates and CRLs like those the tests build (a root, an intermediate, clients with
negative, zero-led and 20-octet serials, CRLs with and without entries, extensions and
nextUpdate), configuration files like the README's, `nginx -T` dumps like doctor reads, and
web bodies like the page and the API send. Needs python3-cryptography.
"""
import datetime
import pathlib

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

HERE = pathlib.Path(__file__).resolve().parent / "corpus"
NOW = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)


def write(target, name, data):
    folder = HERE / target
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(data if isinstance(data, bytes) else data.encode())


def key():
    return ec.generate_private_key(ec.SECP256R1())


def name(common_name):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "certbridge fuzz")])


def certificate(subject, issuer, subject_key, issuer_key, serial, ca, eku=True):
    builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer)
               .public_key(subject_key.public_key()).serial_number(serial)
               .not_valid_before(NOW).not_valid_after(NOW + datetime.timedelta(days=3650))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if not ca and eku:
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
    if not ca:
        builder = builder.add_extension(x509.CRLDistributionPoints([x509.DistributionPoint(
            [x509.UniformResourceIdentifier("http://127.0.0.1/ca.crl")], None, None, None)]),
            critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def crl(issuer, issuer_key, serials, number, reason=False):
    builder = (x509.CertificateRevocationListBuilder().issuer_name(issuer)
               .last_update(NOW).next_update(NOW + datetime.timedelta(days=7))
               .add_extension(x509.CRLNumber(number), critical=False))
    for serial in serials:
        entry = x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(NOW)
        if reason:
            entry = entry.add_extension(x509.CRLReason(x509.ReasonFlags.key_compromise),
                                        critical=False)
        builder = builder.add_revoked_certificate(entry.build())
    return builder.sign(issuer_key, hashes.SHA256())


def der(thing):
    return thing.public_bytes(serialization.Encoding.DER)


def pem(thing):
    return thing.public_bytes(serialization.Encoding.PEM)


root_key, issuing_key, client_key = key(), key(), key()
root = certificate(name("Fuzz Root CA"), name("Fuzz Root CA"), root_key, root_key, 1, True)
issuing = certificate(name("Fuzz Issuing CA"), name("Fuzz Root CA"), issuing_key, root_key, 2, True)
alice = certificate(name("alice"), name("Fuzz Root CA"), client_key, root_key, 0x1234, False)
bob = certificate(name("bob"), name("Fuzz Issuing CA"), client_key, issuing_key,
                  (1 << 159) - 7, False)  # a 20-octet serial
server = certificate(name("server"), name("Fuzz Root CA"), client_key, root_key, 0x80, False,
                     eku=False)

for target in ("certificate_der_fuzz", "upload_fuzz"):
    for label, cert in (("root", root), ("issuing", issuing), ("alice", alice), ("bob", bob)):
        write(target, label + ".der", der(cert))
for label, cert in (("root", root), ("alice", alice)):
    write("certificate_pem_fuzz", label + ".pem", pem(cert))
    write("upload_fuzz", label + ".pem", pem(cert))
write("certificate_pem_fuzz", "bundle.pem", pem(root) + pem(issuing) + pem(bob))
write("upload_fuzz", "two.pem", pem(alice) + pem(bob))

write("crl_fuzz", "empty.der", der(crl(name("Fuzz Root CA"), root_key, [], 1)))
write("crl_fuzz", "entries.der",
      der(crl(name("Fuzz Root CA"), root_key, [0x1234, 0x80, 1, (1 << 159) - 7], 2, reason=True)))
write("crl_fuzz", "issuing.der",
      der(crl(name("Fuzz Issuing CA"), issuing_key, [5], 3)))
write("crl_fuzz", "entries.pem", pem(crl(name("Fuzz Issuing CA"), issuing_key, [7, 8, 9], 4)))

# doctor's bundle files: the first byte says which kind (0 certificates, 1 CRLs).
write("pem_blocks_fuzz", "client_ca.txt", b"\0" + pem(root) + pem(issuing))
write("pem_blocks_fuzz", "mixed.txt", b"\0" + pem(alice) + b"-----BEGIN PRIVATE KEY-----\nAAAA\n"
      b"-----END PRIVATE KEY-----\n" + pem(crl(name("Fuzz Root CA"), root_key, [1], 9)) +
      b"-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n-----BEGIN X\n")
write("pem_blocks_fuzz", "crls.txt", b"\1" + pem(crl(name("Fuzz Root CA"), root_key, [1, 2], 5)) +
      pem(crl(name("Fuzz Issuing CA"), issuing_key, [], 6)))

write("config_fuzz", "readme.ini", """[storage]
path = /tmp/certbridge-fuzz/certbridge.db
busy_timeout_ms = 5000

[store.system]          ; one section per store, any NAME
type = nss
path = sql:/etc/pki/nssdb
policy = auto           ; auto: every client certificate in the store is trusted

[nginx]
output_dir = /etc/nginx/certbridge
test_command = nginx -t
pid_file = /run/nginx.pid   ; or reload_command = nginx -s reload

[sync]
interval = 300
""")
write("config_fuzz", "everything.ini", """[storage]
path = /tmp/certbridge-fuzz/state.db
[store.main]
type = nss
path = /tmp/nssdb
policy = manual
[nginx]
output_dir = /tmp/out
dump_command = nginx -T -p /tmp/nginx
test_command = "nginx" -t -p '/tmp/nginx'
reload_command = nginx -s reload
[sync]
interval = 60
[log]
level = debug
[web]
enabled = false
listen = 127.0.0.1:0
public_status = true
max_body = 1048576
threads = 8
session_timeout = 28800
api_token_sha256 = 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
[crl]
enabled = true
missing = omit
max_size = 67108864
connect_timeout = 10
read_timeout = 30
refresh_at = 80
min_lead = 3600
retry_initial = 60
retry_max = 3600
warning_margin = 86400
[crl.urls]
00:11:22:33:44:55:66:77:88:99:aa:bb:cc:dd:ee:ff:00:11:22:33:44:55:66:77:88:99:aa:bb:cc:dd:ee:ff = http://127.0.0.1/a.crl file:///tmp/b.crl
""")

nginx_conf = """user www-data;
pid /run/nginx.pid;
error_log logs/error.log info;
http {
    include /etc/nginx/certbridge/clients.map;
    map $ssl_client_verify $verified { default 0; SUCCESS 1; }
    server {
        listen 127.0.0.1:8443 ssl;
        server_name "edge.example" www.example;
        ssl_certificate     tls/server.pem;
        ssl_certificate_key tls/server.key;
        include /etc/nginx/certbridge/mtls.conf;
        location / {
            if ($ssl_client_verify != SUCCESS) { return 403; }
            include /etc/nginx/certbridge/mtls-proxy.conf;
            add_header X-Test 'it\\'s' always;
            proxy_pass http://127.0.0.1:8000;
        }
    }
}
"""
mtls_conf = """ssl_client_certificate /etc/nginx/certbridge/client-ca.pem;
ssl_verify_client optional;
ssl_verify_depth 2;
ssl_crl /etc/nginx/certbridge/crl.pem;
if ($certbridge_client = "") { return 403; }
"""
clients_map = """map_hash_max_size 1024;
map $ssl_client_fingerprint $certbridge_client {
    default "";
    0123456789abcdef0123456789abcdef01234567 alice;  # CN=alice
}
"""
dump = ("nginx: the configuration file /etc/nginx/nginx.conf syntax is ok\n"
        "nginx: configuration file /etc/nginx/nginx.conf test is successful\n"
        "# configuration file /etc/nginx/nginx.conf:\n" + nginx_conf + "\n"
        "# configuration file /etc/nginx/certbridge/clients.map:\n" + clients_map + "\n"
        "# configuration file /etc/nginx/certbridge/mtls.conf:\n" + mtls_conf + "\n"
        "# configuration file /etc/nginx/certbridge/mtls-proxy.conf:\n"
        "proxy_set_header X-Client-Name $certbridge_client;\n\n")
write("nginx_config_fuzz", "dump.txt", dump)
write("nginx_config_fuzz", "failed.txt",
      "nginx: [emerg] no ssl_client_certificate for ssl_verify_client in /etc/nginx/nginx.conf:9\n"
      "nginx: configuration file /etc/nginx/nginx.conf test failed\n")
write("nginx_config_fuzz", "glob.txt",
      "# configuration file /n/nginx.conf:\nhttp { include conf.d/*.conf; }\n\n"
      "# configuration file /n/conf.d/a.conf:\nserver { listen 443 ssl; }\n\n")

write("form_body_fuzz", "login.txt",
      "application/x-www-form-urlencoded\npassword=demo-password&csrf=0123abcd%20%2B")
write("form_body_fuzz", "approve.txt", "application/x-www-form-urlencoded\ncsrf=abc")
boundary = "----certbridgeFuzzBoundary"
multipart = ("--" + boundary + "\r\n"
             "Content-Disposition: form-data; name=\"csrf\"\r\n\r\n"
             "0123abcd\r\n"
             "--" + boundary + "\r\n"
             "Content-Disposition: form-data; name=\"certificate\"; filename=\"alice.pem\"\r\n"
             "Content-Type: application/x-pem-file\r\n\r\n").encode() + pem(alice) + (
             "\r\n--" + boundary + "--\r\n").encode()
write("form_body_fuzz", "upload.txt",
      ("multipart/form-data; boundary=" + boundary + "\n").encode() + multipart)

write("json_body_fuzz", "trusted.json", '{"state": "trusted"}')
write("json_body_fuzz", "blocked.json", '{"state":"blocked","comment":["x",1,2.5e3,true,null]}')
write("json_body_fuzz", "nested.json", '{"a":{"b":[{"c":"\\u00e9\\n"}]},"state":"x"}')
