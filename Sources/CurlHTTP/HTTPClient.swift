import CCurl
import CShims
import Platform

/// Blocking HTTP/1.1 client over libcurl. Thread-safe: each calling thread gets its own curl
/// handle (kept for connection reuse), so `perform` may run on many threads at once. Redirects
/// are not followed, only `http` and `https` are allowed, TLS peers are always verified, and
/// proxies from the environment are ignored so a token only ever goes to the named host.
///
/// ```swift
/// CurlRuntime.initializeOnce()
/// let http = HTTPClient(options: HTTPClientOptions(userAgent: "totp-bot/1.0"))
/// let response = try http.perform(HTTPClientRequest(url: "http://127.0.0.1:8080/healthz"))
/// print(response.status)
/// ```
public final class HTTPClient: Sendable {
    public let options: HTTPClientOptions

    public init(options: HTTPClientOptions) {
        CurlRuntime.initializeOnce()
        self.options = options
    }

    /// Sends `request` and waits for the whole response (bounded by `request.timeout`).
    /// Any HTTP status, 4xx and 5xx included, is a response; only transport failures throw.
    public func perform(_ request: HTTPClientRequest) throws(HTTPClientError) -> HTTPClientResponse {
        let handle = try CurlEasyHandle.forCurrentThread()
        let transfer = makeTransfer(for: request)
        let code = try run(request, on: handle, transfer: transfer) { _ in }
        if code != CURLE_OK { throw failure(code, handle: handle, transfer: transfer, request: request) }
        return HTTPClientResponse(status: handle.responseCode(), headers: transfer.headers, body: transfer.body)
    }

    /// The collector for one exchange, with the verbose logger and the request's secrets.
    func makeTransfer(for request: HTTPClientRequest) -> CurlTransfer {
        let verboseLogger = options.verbose
            ? (options.verboseLogger ?? Logger(component: "curl", minimumLevel: .debug)) : nil
        return CurlTransfer(
            maxBodyBytes: options.maxResponseBytes, verboseLogger: verboseLogger, secrets: request.secrets)
    }

    /// Validates `request`, sets every option an exchange needs on `handle` (plus those
    /// `configureMore` adds for one mode, e.g. streaming) and runs it on the calling thread. The C
    /// storage the options point at (header list, body) lives until curl returns.
    func run(
        _ request: HTTPClientRequest, on handle: CurlEasyHandle, transfer: CurlTransfer,
        configureMore: (CurlEasyHandle) -> Void
    ) throws(HTTPClientError) -> CURLcode {
        guard CurlRuntime.initializationCode == 0 else {
            throw HTTPClientError(
                kind: .other, curlCode: CurlRuntime.initializationCode,
                message: "curl_global_init failed; libcurl is unusable in this process")
        }
        let method = request.method.uppercased()
        try Self.validate(request, method: method)
        handle.reset()
        let userdata = UnsafeRawPointer(Unmanaged.passUnretained(transfer).toOpaque())

        var headerList: UnsafeMutablePointer<curl_slist>? = nil
        defer { curl_slist_free_all(headerList) }
        // "Expect:" with no value stops curl from sending `Expect: 100-continue` with bodies,
        // which would cost a round trip (or a one-second wait) per POST.
        for line in request.headers.map({ "\($0.0): \($0.1)" }) + ["Expect:"] {
            guard let appended = curl_slist_append(headerList, line) else {
                throw HTTPClientError(kind: .other, curlCode: Int(CURLE_OUT_OF_MEMORY.rawValue),
                                      message: "curl_slist_append failed (out of memory)")
            }
            headerList = appended
        }

        // curl does not copy POSTFIELDS: the bytes must stay put until perform returns.
        let bodyCount = request.body?.count ?? 0
        let bodyStorage = UnsafeMutableRawPointer.allocate(byteCount: max(bodyCount, 1), alignment: 1)
        defer { bodyStorage.deallocate() }
        if let body = request.body, !body.isEmpty {
            body.withUnsafeBytes { bodyStorage.copyMemory(from: $0.baseAddress!, byteCount: bodyCount) }
        }

        handle.set(CURLOPT_URL, string: request.url)
        handle.set(CURLOPT_PROTOCOLS_STR, string: "http,https")
        handle.set(CURLOPT_REDIR_PROTOCOLS_STR, string: "http,https")
        handle.set(CURLOPT_FOLLOWLOCATION, 0)
        // An empty proxy string disables http_proxy/https_proxy from the environment.
        handle.set(CURLOPT_PROXY, string: "")
        handle.set(CURLOPT_TIMEOUT_MS, Self.milliseconds(request.timeout))
        handle.set(CURLOPT_CONNECTTIMEOUT_MS, Self.milliseconds(request.connectTimeout))
        if let keepAlive = options.tcpKeepAlive {
            handle.set(CURLOPT_TCP_KEEPALIVE, 1)
            handle.set(CURLOPT_TCP_KEEPIDLE, Self.wholeSeconds(keepAlive.idle))
            handle.set(CURLOPT_TCP_KEEPINTVL, Self.wholeSeconds(keepAlive.interval))
        }
        handle.set(CURLOPT_SSL_VERIFYPEER, 1)
        handle.set(CURLOPT_SSL_VERIFYHOST, 2)
        if let caFile = request.caFile ?? options.caFile {
            handle.set(CURLOPT_CAINFO, string: caFile)
        }
        if let certificate = options.clientCertificateFile {
            handle.set(CURLOPT_SSLCERT, string: certificate)
        }
        if let key = options.clientKeyFile {
            handle.set(CURLOPT_SSLKEY, string: key)
        }
        if let socketPath = request.unixSocketPath {
            handle.set(CURLOPT_UNIX_SOCKET_PATH, string: socketPath)
        }
        handle.set(CURLOPT_USERAGENT, string: request.userAgent ?? options.userAgent)
        handle.set(CURLOPT_HTTPHEADER, pointer: UnsafeRawPointer(headerList))
        handle.set(CURLOPT_WRITEDATA, pointer: userdata)
        handle.setWriteCallback(CurlTransfer.writeCallback)
        handle.set(CURLOPT_HEADERDATA, pointer: userdata)
        handle.setHeaderCallback(CurlTransfer.headerCallback)
        if let auth = request.basicAuth {
            handle.set(CURLOPT_HTTPAUTH, 1)  // CURLAUTH_BASIC; the macro's cast does not import
            handle.set(CURLOPT_USERNAME, string: auth.user)
            handle.set(CURLOPT_PASSWORD, string: auth.password)
        }
        if transfer.verboseLogger != nil {
            // Only CURLINFO_TEXT lines are kept (see CurlTransfer.debugCallback): header and
            // data traffic would show the Authorization header.
            handle.set(CURLOPT_DEBUGFUNCTION, pointer: unsafeBitCast(CurlTransfer.debugCallback, to: UnsafeRawPointer.self))
            handle.set(CURLOPT_DEBUGDATA, pointer: userdata)
            handle.set(CURLOPT_VERBOSE, 1)
        }

        if request.body != nil || method == "POST" {
            handle.set(CURLOPT_POSTFIELDSIZE_LARGE, offset: Int64(bodyCount))
            handle.set(CURLOPT_POSTFIELDS, pointer: UnsafeRawPointer(bodyStorage))
            if method != "POST" { handle.set(CURLOPT_CUSTOMREQUEST, string: method) }
        } else if method == "GET" {
            handle.set(CURLOPT_HTTPGET, 1)
        } else if method == "HEAD" {
            handle.set(CURLOPT_NOBODY, 1)
        } else {
            handle.set(CURLOPT_CUSTOMREQUEST, string: method)
        }

        configureMore(handle)
        if let failure = handle.setoptFailure {
            throw HTTPClientError(
                kind: .other, curlCode: Int(failure.code.rawValue),
                message: "curl rejected option \(failure.option.rawValue): "
                    + String(cString: curl_easy_strerror(failure.code)))
        }
        return withExtendedLifetime(transfer) { handle.perform() }
    }

    /// The error for a transfer that ended with `code`, its message scrubbed of credentials.
    func failure(
        _ code: CURLcode, handle: CurlEasyHandle, transfer: CurlTransfer, request: HTTPClientRequest
    ) -> HTTPClientError {
        if transfer.bodyTooLarge {
            return HTTPClientError(
                kind: .other, curlCode: Int(code.rawValue),
                message: "response body larger than \(options.maxResponseBytes) bytes")
        }
        return HTTPClientError(
            kind: HTTPClientError.kind(for: code), curlCode: Int(code.rawValue),
            message: Self.scrub(handle.errorMessage(for: code), secrets: request.secrets))
    }

    /// Refuses what would corrupt the request on the wire (header injection, odd methods).
    private static func validate(_ request: HTTPClientRequest, method: String) throws(HTTPClientError) {
        func invalid(_ message: String) -> HTTPClientError {
            HTTPClientError(kind: .other, curlCode: Int(CURLE_BAD_FUNCTION_ARGUMENT.rawValue), message: message)
        }
        guard !method.isEmpty, method.utf8.allSatisfy({ $0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z") }) else {
            throw invalid("HTTP method must be letters only, e.g. GET or PATCH")
        }
        for (index, (name, value)) in request.headers.enumerated() {
            let badName = name.isEmpty || name.utf8.contains { $0 <= 0x20 || $0 == UInt8(ascii: ":") || $0 >= 0x7F }
            if badName { throw invalid("header #\(index + 1) has an empty or invalid name") }
            if value.utf8.contains(where: { $0 == 0x0D || $0 == 0x0A || $0 == 0 }) {
                throw invalid("header \(name) contains CR, LF or NUL; remove line breaks from its value")
            }
        }
        for s in [request.url, request.userAgent ?? "", request.basicAuth?.user ?? "", request.basicAuth?.password ?? ""]
        where s.utf8.contains(where: { $0 == 0x0D || $0 == 0x0A || $0 == 0 }) {
            throw invalid("URL, user agent or credentials contain CR, LF or NUL")
        }
    }

    /// Whole seconds for curl's second-valued options, at least 1 (the kernel refuses 0).
    static func wholeSeconds(_ duration: Duration) -> Int {
        Int(min(max(1, duration.wholeSeconds), 32_767))
    }

    /// Whole milliseconds, at least 1: curl reads 0 as "no limit".
    public static func milliseconds(_ duration: Duration) -> Int {
        Int(max(1, duration.inMilliseconds))
    }

    private static func scrub(_ message: String, secrets: [String]) -> String {
        var message = message
        for secret in secrets where !secret.isEmpty && message.contains(secret) {
            message = message.replacing(secret, with: "<redacted>")
        }
        return message
    }
}
