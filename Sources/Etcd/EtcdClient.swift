import CurlHTTP
import Platform
import FoundationEssentials
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A client for etcd 3.4's HTTP/JSON gateway (`POST /v3/...`) over the project's libcurl client:
/// leases, reads, writes, transactions and watches. Each call tries the member that answered
/// last, then the others in order: a connection failure, a timeout, a dropped connection or a
/// 5xx moves on to the next member; any other answer is etcd's and is returned or thrown at once.
/// Without a `budget` a call makes one round over the members; with one, it goes round again
/// (100 ms apart) until the budget is spent. A write whose answer was lost may therefore be
/// applied and sent again: make writes safe to repeat (the fenced writes compare first and
/// recognise their own earlier success).
/// Thread-safe and blocking; it never logs, and its errors carry no value or credential.
///
/// ```swift
/// let client = try EtcdClient(configuration: EtcdClientConfiguration(endpoints: ["http://127.0.0.1:2379"]))
/// let lease = try client.grantLease(ttlSeconds: 5)
/// try client.put("/totp-bot/hello", value: Array("hi".utf8), lease: lease.id)
/// let kv = try client.get("/totp-bot/hello")
/// ```
public final class EtcdClient: Sendable {
    public let configuration: EtcdClientConfiguration
    let http: HTTPClient
    /// Index of the endpoint that answered last: the first one the next call tries.
    private let preferred = Atomic<Int>(0)

    public init(configuration: EtcdClientConfiguration) throws(EtcdError) {
        try configuration.validate()
        self.configuration = configuration
        var options = HTTPClientOptions(userAgent: configuration.userAgent, caFile: configuration.caFile)
        options.clientCertificateFile = configuration.clientCertificateFile
        options.clientKeyFile = configuration.clientKeyFile
        options.maxResponseBytes = configuration.maxResponseBytes
        http = HTTPClient(options: options)
    }

    /// The member the next call tries first.
    public var preferredEndpoint: EtcdEndpoint {
        configuration.endpoints[preferred.load(ordering: .relaxed)]
    }

    /// POSTs `request` as JSON to `path` and decodes the 2xx answer, failing over as described
    /// above. `budget` bounds the whole call (every attempt and round); nil allows one round.
    /// `serverFailure` spots a 2xx answer that is really a member's failure (a streamed call's
    /// error line) and returns its description, so that such an answer fails over too.
    func call<Request: Encodable, Response: Decodable>(
        _ path: String, _ request: Request, as: Response.Type, budget: Duration?,
        serverFailure: ([UInt8]) -> String? = { _ in nil }
    ) throws(EtcdError) -> Response {
        let body = try Self.encode(request)
        let response = try send(path, body: body, budget: budget, serverFailure: serverFailure)
        guard (200..<300).contains(response.status) else {
            throw Self.error(status: response.status, body: response.body)
        }
        return try Self.decode(Response.self, from: response.body, path: path)
    }

    /// The endpoints in the order a call tries them, with their indexes.
    func attemptOrder() -> [(index: Int, endpoint: EtcdEndpoint)] {
        let endpoints = configuration.endpoints
        let start = preferred.load(ordering: .relaxed) % endpoints.count
        return (0..<endpoints.count).map { step in
            let index = (start + step) % endpoints.count
            return (index, endpoints[index])
        }
    }

    /// Remembers the member that answered so the next call starts there.
    func answered(_ index: Int) {
        preferred.store(index, ordering: .relaxed)
    }

    /// The HTTP request for `path` on `endpoint`.
    func httpRequest(_ endpoint: EtcdEndpoint, _ path: String, body: [UInt8], timeout: Duration) -> HTTPClientRequest {
        var request = HTTPClientRequest(
            method: "POST", url: endpoint.baseURL + path, headers: [("Content-Type", "application/json")],
            body: body, timeout: timeout, connectTimeout: min(configuration.connectTimeout, timeout))
        request.unixSocketPath = endpoint.unixSocketPath
        return request
    }

    private func send(
        _ path: String, body: [UInt8], budget: Duration?, serverFailure: ([UInt8]) -> String?
    ) throws(EtcdError) -> HTTPClientResponse {
        let deadline = budget.map { ContinuousClock.now + $0 }
        var problems: [String] = []
        // With a budget, rounds over the members go on until it is spent: when the raft leader
        // dies, the followers hold the requests they got until etcd's own request timeout
        // (about 7 s) even after they elected a new leader, so a request has to be sent again.
        while true {
            problems.removeAll()
            for (index, endpoint) in attemptOrder() {
                var timeout = configuration.attemptTimeout
                if let deadline {
                    let left = deadline - .now
                    if left < .milliseconds(1) {
                        problems.append("no time left for \(endpoint)")
                        break
                    }
                    timeout = min(timeout, left)
                }
                let response: HTTPClientResponse
                do {
                    response = try http.perform(httpRequest(endpoint, path, body: body, timeout: timeout))
                } catch {
                    problems.append("\(endpoint): \(error.message)")
                    continue
                }
                if response.status >= 500 {
                    problems.append("\(endpoint): HTTP \(response.status) \(Self.errorDetail(response.body).text)")
                    continue
                }
                if (200..<300).contains(response.status), let failure = serverFailure(response.body) {
                    problems.append("\(endpoint): \(failure)")
                    continue
                }
                answered(index)
                return response
            }
            guard let deadline, deadline - .now > Self.roundPause else { break }
            // Members that refuse at once must not be hammered in a tight loop.
            Sleep.for(Self.roundPause)
        }
        throw EtcdError.unreachable(problems)
    }

    /// Wait between two rounds over the members within one call.
    static let roundPause: Duration = .milliseconds(100)

    static func encode<Request: Encodable>(_ request: Request) throws(EtcdError) -> [UInt8] {
        do {
            return Array(try JSONEncoder().encode(request))
        } catch {
            throw .invalidRequest("the etcd request could not be encoded as JSON: \(error)")
        }
    }

    static func decode<Response: Decodable>(_ type: Response.Type, from body: [UInt8], path: String) throws(EtcdError) -> Response {
        do {
            return try JSONDecoder().decode(type, from: Data(body))
        } catch {
            // The decoding error names the field, never its content.
            throw .badResponse("\(path) answered \(body.count) bytes that are not the expected JSON: \(Self.describe(error))")
        }
    }

    /// The error a non-2xx answer stands for.
    static func error(status: Int, body: [UInt8]) -> EtcdError {
        let detail = errorDetail(body)
        return error(status: status, grpcCode: detail.code, message: detail.text)
    }

    /// Maps etcd's error text (the same in unary answers and in stream lines) to a kind.
    static func error(status: Int, grpcCode: Int?, message: String) -> EtcdError {
        if message.contains("requested lease not found") { return .leaseNotFound(nil) }
        if message.contains("request is too large") || message.contains("larger than max") {
            return .requestTooLarge(message)
        }
        if message.contains("too many operations in txn request") { return .tooManyOperations(message) }
        if message.contains("required revision has been compacted") { return .compacted(at: nil) }
        return .rejected(status: status, grpcCode: grpcCode, message)
    }

    /// etcd's message and gRPC code from an error body (`{"error":"...","code":5,"message":"..."}`),
    /// cut to 200 characters; the body's first bytes if it is something else.
    static func errorDetail(_ body: [UInt8]) -> (text: String, code: Int?) {
        if let error = try? JSONDecoder().decode(EtcdWire.UnaryError.self, from: Data(body)),
           let text = error.message ?? error.error {
            return (String(text.prefix(200)), error.code)
        }
        let text = String(decoding: body.prefix(200), as: UTF8.self)
        return (String(text.unicodeScalars.filter { $0.value >= 0x20 && $0.value != 0x7F }.map(Character.init)), nil)
    }

    /// A decoding error as the path of the offending field and the problem, without the data.
    static func describe(_ error: any Error) -> String {
        guard let error = error as? DecodingError else { return "not JSON" }
        switch error {
        case .typeMismatch(_, let context), .valueNotFound(_, let context), .keyNotFound(_, let context),
             .dataCorrupted(let context):
            let path = context.codingPath.map(\.stringValue).joined(separator: ".")
            return path.isEmpty ? "not JSON of the expected shape" : "unexpected \(path)"
        @unknown default:
            return "not JSON of the expected shape"
        }
    }
}
