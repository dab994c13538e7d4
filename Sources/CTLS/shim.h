// libssl for the gateway's TLS listener. Many OpenSSL 3 calls are macros over SSL_CTX_ctrl or
// take variadic forms Swift cannot import; the typed inline wrappers below (prefixed ctls_) are
// the only way Swift reaches them, and only Sources/TLS imports this module.
#include <openssl/ssl.h>
#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <openssl/asn1.h>
#include <string.h>
#include <time.h>

static inline int ctls_ctx_set_min_tls12(SSL_CTX *ctx) {
    return (int)SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
}

// No renegotiation (a client-started one costs the server a handshake), no compression (CRIME),
// the server's cipher order, and nothing older than TLS 1.2.
static inline void ctls_ctx_set_server_options(SSL_CTX *ctx) {
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION | SSL_OP_CIPHER_SERVER_PREFERENCE
        | SSL_OP_NO_SSLv3 | SSL_OP_NO_TLSv1 | SSL_OP_NO_TLSv1_1);
    // Partial writes and a moving buffer: the event loop retries a blocked write with the
    // unwritten tail of its output array, which may have moved.
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
    // Read whole socket buffers, not a record header and then its body: one read(2) per
    // request instead of two. Records read ahead are reported by SSL_has_pending.
    SSL_CTX_set_read_ahead(ctx, 1);
}

static inline void ctls_ctx_enable_session_cache(SSL_CTX *ctx, const unsigned char *id, unsigned int length) {
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
    SSL_CTX_sess_set_cache_size(ctx, 20480);
    SSL_CTX_set_session_id_context(ctx, id, length);
}

static inline void ctls_ctx_require_client_certificate(SSL_CTX *ctx) {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
}

static inline int ctls_ctx_set_client_ca_list(SSL_CTX *ctx, const char *file) {
    STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(file);
    if (names == NULL) return 0;
    SSL_CTX_set_client_CA_list(ctx, names);
    return 1;
}

// The not-after time (Unix seconds) of `cert`; 0 when it cannot be read.
static inline long long ctls_x509_not_after(const X509 *cert) {
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    const ASN1_TIME *t = X509_get0_notAfter(cert);
    if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1) return 0;
    return (long long)timegm(&tm);
}

static inline long long ctls_ctx_not_after(SSL_CTX *ctx) {
    X509 *cert = SSL_CTX_get0_certificate(ctx);
    return cert == NULL ? 0 : ctls_x509_not_after(cert);
}

static inline int ctls_x509_common_name(X509 *cert, char *buffer, int length) {
    X509_NAME *name = X509_get_subject_name(cert);
    if (name == NULL) return -1;
    return X509_NAME_get_text_by_NID(name, NID_commonName, buffer, length);
}

static inline int ctls_ctx_common_name(SSL_CTX *ctx, char *buffer, int length) {
    X509 *cert = SSL_CTX_get0_certificate(ctx);
    return cert == NULL ? -1 : ctls_x509_common_name(cert, buffer, length);
}

// The subject CN of the verified peer certificate; -1 when there is none.
static inline int ctls_peer_common_name(SSL *ssl, char *buffer, int length) {
    X509 *cert = SSL_get1_peer_certificate(ssl);
    if (cert == NULL) return -1;
    int n = ctls_x509_common_name(cert, buffer, length);
    X509_free(cert);
    return n;
}

// 1 when the peer's leaf certificate is `expected` (same DER), 0 otherwise or without one.
static inline int ctls_peer_certificate_equals(SSL *ssl, X509 *expected) {
    X509 *cert = SSL_get1_peer_certificate(ssl);
    if (cert == NULL) return 0;
    int same = X509_cmp(cert, expected) == 0;
    X509_free(cert);
    return same;
}

