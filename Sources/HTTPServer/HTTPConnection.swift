/// One connection of an event loop: its transport, its state machine, its parser, and the bytes
/// it holds between events. Small on purpose, so that thousands of idle keep-alive connections
/// cost little: no preallocated buffers (`input` and `output` hold bytes only while a request is
/// split across reads or a response is blocked on a slow peer) and no timeouts stored (the loop
/// passes them with each event). Reached only through its loop's `HTTPConnectionTable`, whose
/// owner thread is asserted.
///
/// ```swift
/// let connection = HTTPConnection(transport: HTTPTransport(fd: fd), remoteAddress: "127.0.0.1",
///     parser: HTTPRequestParser(), machine: machine, countedForClient: false)
/// connection.machine.state   // .awaitingRequest(deadline: ...)
/// ```
final class HTTPConnection {
    let transport: HTTPTransport
    let remoteAddress: String
    var machine: HTTPConnectionStateMachine
    var parser: HTTPRequestParser
    /// Received bytes not consumed yet: a partial head, or requests left for the next batch.
    var input: [UInt8] = []
    /// Response bytes not written yet, from `outputOffset` on.
    var output: [UInt8] = []
    var outputOffset = 0
    /// Counted against the per-client limit (released on close).
    let countedForClient: Bool
    /// The verified client certificate's subject CN (mutual TLS), read once after the handshake.
    var clientCertificate: String?

    init(
        transport: HTTPTransport, remoteAddress: String, parser: HTTPRequestParser, machine: HTTPConnectionStateMachine,
        countedForClient: Bool
    ) {
        self.transport = transport
        self.remoteAddress = remoteAddress
        self.parser = parser
        self.machine = machine
        self.countedForClient = countedForClient
    }

    var fd: Int32 { transport.fd }

    deinit {
        assert(machine.isClosed, "HTTPConnection for fd \(fd) released without being closed")
    }
}

@available(*, unavailable)
extension HTTPConnection: Sendable {}
