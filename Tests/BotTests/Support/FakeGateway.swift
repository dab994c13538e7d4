import Foundation
import Platform
import HTTPServer
import Synchronization

/// A gateway stand-in on a loopback port the kernel picks: answers every `GET /code?label=X`
/// with 200 and the JSON `body(X)` returns, whatever it is (a compromised gateway).
final class FakeGateway: Sendable {
    /// Requests answered, shared with the server's handler.
    private final class Counter: Sendable {
        let value = Mutex(0)
    }

    private let server: HTTPServer
    private let counter = Counter()

    init(body: @escaping @Sendable (String) -> String) {
        var config = HTTPServerConfiguration()
        config.host = "127.0.0.1"
        config.port = 0
        config.eventLoops = 1
        let counter = self.counter
        server = HTTPServer(configuration: config, logger: Logger(component: "fake-gateway", sink: .memory())) { request in
            counter.value.withLock { $0 += 1 }
            let label = request.queryItems().first { $0.0 == "label" }?.1 ?? ""
            return HTTPResponse(status: 200, headers: [("Content-Type", "application/json")], body: Array(body(label).utf8))
        }
    }

    /// Listens; returns the port.
    func start() throws -> Int { try server.start() }
    func stop() { server.stopNow() }

    /// Requests answered so far.
    var requests: Int { counter.value.withLock { $0 } }
}
