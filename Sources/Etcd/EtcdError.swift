import Platform

/// Why an etcd call failed, with what to do about it. Equality compares the kind only, so
/// callers branch with `catch let error where error == .leaseNotFound`. Messages never contain
/// a value, a credential or a key file's content.
///
/// ```swift
/// do { _ = try client.keepAlive(lease: lease.id) }
/// catch let error where error == .leaseNotFound { /* the lease expired: grant a new one */ }
/// catch { logger.warning("etcd", ["error": .string("\(error)")]) }
/// ```
public struct EtcdError: Error, Sendable, Equatable, CustomStringConvertible {
    private enum Code: Sendable, Equatable {
        case unreachable, leaseNotFound, requestTooLarge, tooManyOperations, compacted, rejected
        case badResponse, invalidRequest
    }

    private let code: Code
    /// What happened and what to do, ready for a log line.
    public let message: String
    /// For `.compacted`: the oldest revision etcd still has.
    public let compactRevision: Int64?

    private init(_ code: Code, _ message: String, compactRevision: Int64? = nil) {
        self.code = code
        self.message = message
        self.compactRevision = compactRevision
    }

    public var description: String { message }

    public static func == (lhs: EtcdError, rhs: EtcdError) -> Bool { lhs.code == rhs.code }

    // Kinds to compare with (their messages are generic).
    public static let unreachable = EtcdError(.unreachable, "etcd is unreachable")
    public static let leaseNotFound = EtcdError(.leaseNotFound, "the etcd lease does not exist")
    public static let requestTooLarge = EtcdError(.requestTooLarge, "the request is too large for etcd")
    public static let tooManyOperations = EtcdError(.tooManyOperations, "the transaction has too many operations")
    public static let compacted = EtcdError(.compacted, "the requested revision was compacted")
    public static let rejected = EtcdError(.rejected, "etcd refused the request")
    public static let badResponse = EtcdError(.badResponse, "etcd's answer could not be read")
    public static let invalidRequest = EtcdError(.invalidRequest, "the etcd request or configuration is invalid")

    /// No endpoint answered; `problems` says why for each (endpoint and cause, no secrets).
    static func unreachable(_ problems: [String]) -> EtcdError {
        EtcdError(.unreachable, "etcd is unreachable on every endpoint (\(problems.joined(separator: "; "))); "
            + "check that the etcd members are running and that the endpoints are their client URLs")
    }

    static func leaseNotFound(_ id: Int64?) -> EtcdError {
        let lease = id.map { "etcd lease \($0)" } ?? "the etcd lease"
        return EtcdError(.leaseNotFound, "\(lease) does not exist (it expired or was revoked); grant a new lease")
    }

    static func requestTooLarge(_ detail: String) -> EtcdError {
        EtcdError(.requestTooLarge, "etcd refused a request as too large (\(detail)); write less per request "
            + "(etcd's --max-request-bytes is 1.5 MiB by default)")
    }

    static func tooManyOperations(_ detail: String) -> EtcdError {
        EtcdError(.tooManyOperations, "etcd refused a transaction with too many operations (\(detail)); split it "
            + "(etcd's --max-txn-ops is 128 by default)")
    }

    static func compacted(at revision: Int64?) -> EtcdError {
        let upTo = revision.map { " up to revision \($0)" } ?? ""
        return EtcdError(.compacted, "etcd has compacted its history\(upTo); read the current value "
            + "and watch again from its revision", compactRevision: revision)
    }

    static func rejected(status: Int, grpcCode: Int?, _ detail: String) -> EtcdError {
        let hint: String
        switch status {
        case 401, 403: hint = "check the etcd user, its role and the client certificate"
        default: hint = "check the request against etcd's documentation and its log"
        }
        let code = grpcCode.map { ", gRPC code \($0)" } ?? ""
        return EtcdError(.rejected, "etcd refused the request (HTTP \(status)\(code): \(detail)); \(hint)")
    }

    static func badResponse(_ detail: String) -> EtcdError {
        EtcdError(.badResponse, "etcd's answer could not be read (\(detail)); check that the endpoint is an "
            + "etcd 3.4+ client URL (its JSON gateway answers on /v3/)")
    }

    static func invalidRequest(_ detail: String) -> EtcdError {
        EtcdError(.invalidRequest, detail)
    }
}
