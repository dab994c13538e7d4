extension EtcdClient {
    /// The status of the first member that answers (the preferred one while it is up): give the
    /// client a single endpoint to ask a given member.
    public func status(budget: Duration? = nil) throws(EtcdError) -> EtcdMemberStatus {
        let response = try call("/v3/maintenance/status", EtcdWire.EmptyRequest(), as: EtcdWire.StatusResponse.self, budget: budget)
        guard let member = response.header?.member_id?.value else {
            throw .badResponse("/v3/maintenance/status answered without a member ID")
        }
        return EtcdMemberStatus(
            memberID: member, leaderID: response.leader?.value ?? 0, version: response.version ?? "",
            raftTerm: response.raftTerm?.value ?? 0, revision: response.header?.revision?.value ?? 0)
    }
}
