/// The outcome of one `SocketListener.accept()`.
///
/// ```swift
/// if case .resourceExhausted = listener.accept() { /* stop accepting for a while */ }
/// ```
public enum SocketAcceptResult: Sendable {
    /// A new connected, non-blocking socket and its peer address.
    case accepted(fd: Int32, peer: SocketAddress)
    /// No pending connection.
    case wouldBlock
    /// Out of descriptors or memory (EMFILE, ENFILE, ENOBUFS, ENOMEM): back off, don't spin.
    case resourceExhausted(SystemError)
    /// The pending connection failed (e.g. ECONNABORTED): just try again.
    case transient(SystemError)
    /// Anything else; the listener is probably unusable.
    case failed(SystemError)
}
