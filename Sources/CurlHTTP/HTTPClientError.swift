import CCurl
import Platform

/// A request that produced no HTTP response. `kind` is what callers branch on (fail over,
/// retry later, give up); `message` is curl's own explanation (`CURLOPT_ERRORBUFFER`), with any
/// credential of the request scrubbed out.
///
/// ```swift
/// do { _ = try http.perform(request) }
/// catch let error where error.kind == .connect { /* try the next gateway */ }
/// ```
public struct HTTPClientError: Error, Sendable, CustomStringConvertible {
    /// Coarse reason, chosen so a caller knows whether another server might do better.
    public enum Kind: Sendable, Equatable {
        /// The name did not resolve or the TCP connect failed or timed out: nothing was sent.
        case connect
        /// The total (or connect) time limit passed during the exchange.
        case timeout
        /// The server closed the connection without a complete answer: curl codes 52
        /// (`GOT_NOTHING`), 55 (`SEND_ERROR`) and 56 (`RECV_ERROR`, e.g. a reset). The request
        /// may have been processed, so only idempotent requests should be sent again.
        case emptyReply
        /// TLS handshake or certificate verification failed.
        case tls
        /// Anything else: unsupported scheme, malformed URL or header, oversized body...
        case other
    }

    public var kind: Kind
    /// The `CURLcode` (0 when the request was refused before curl ran).
    public var curlCode: Int
    /// Human-readable cause; never contains credentials.
    public var message: String

    public init(kind: Kind, curlCode: Int, message: String) {
        self.kind = kind
        self.curlCode = curlCode
        self.message = message
    }

    public var description: String {
        let hint: String
        switch kind {
        case .connect: hint = "check the URL and that the server is up and reachable"
        case .timeout: hint = "the server is slow or unreachable; raise the timeout or try another server"
        case .emptyReply: hint = "the server closed the connection; check its logs"
        case .tls: hint = "check the server certificate and the CA file"
        case .other: hint = "check the request"
        }
        return "HTTP request failed (\(kind), curl code \(curlCode)): \(message); \(hint)"
    }

    /// Maps a failed `CURLcode` to a kind.
    static func kind(for code: CURLcode) -> Kind {
        switch code {
        case CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY, CURLE_COULDNT_CONNECT:
            return .connect
        case CURLE_OPERATION_TIMEDOUT:
            return .timeout
        case CURLE_GOT_NOTHING, CURLE_SEND_ERROR, CURLE_RECV_ERROR:
            return .emptyReply
        case CURLE_SSL_CONNECT_ERROR, CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CERTPROBLEM,
            CURLE_SSL_CIPHER, CURLE_SSL_CACERT_BADFILE, CURLE_SSL_ENGINE_NOTFOUND,
            CURLE_SSL_ENGINE_SETFAILED, CURLE_SSL_ENGINE_INITFAILED, CURLE_USE_SSL_FAILED,
            CURLE_SSL_SHUTDOWN_FAILED, CURLE_SSL_CRL_BADFILE, CURLE_SSL_ISSUER_ERROR,
            CURLE_SSL_PINNEDPUBKEYNOTMATCH, CURLE_SSL_INVALIDCERTSTATUS, CURLE_SSL_CLIENTCERT:
            return .tls
        default:
            return .other
        }
    }
}
