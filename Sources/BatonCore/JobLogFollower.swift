/// Follows a job log that can only be read whole (Ray's Jobs API has no offset or follow call
/// over HTTP): reads it every ``interval``, and yields what was added since the last read.
/// Ends after the first read that follows the job's end, so the last lines are never missed,
/// or after ``maximumDuration``.
///
/// The first element is the log's last `tailLines` lines as it stands (nothing when the job has
/// printed nothing yet). A log whose start moved between reads (a reader that keeps only the end
/// of a long log) is announced with one line, and followed from its new end. A read that fails
/// after the first is tried again on the next tick; ``maximumReadFailures`` in a row end the
/// sequence with the last error.
public struct JobLogFollower: AsyncSequence, Sendable {
    public typealias Element = String

    /// Reads the whole log (what exists so far; empty before the job started).
    public let read: @Sendable () async throws -> String
    /// Whether the job has ended: nothing more will be printed.
    public let hasEnded: @Sendable () async throws -> Bool
    /// How many of the log's last lines the first element holds.
    public let tailLines: Int
    /// How long between reads. Default: 1 s.
    public var interval: Duration = .seconds(1)
    /// After this long the sequence ends even if the job goes on. Default: 1 h.
    public var maximumDuration: Duration = .seconds(3600)
    /// Failed reads in a row after which the sequence throws. Default: 10.
    public var maximumReadFailures = 10
    /// The first read, made by the caller (to answer its errors before a stream starts): the log
    /// and whether the job had ended before it was read.
    public let firstRead: (log: String, ended: Bool)?

    /// Follows the log `read` returns until `hasEnded`, starting with its last `tailLines` lines
    /// of `firstRead` (read now when nil).
    public init(
        tailLines: Int, firstRead: (log: String, ended: Bool)? = nil,
        read: @escaping @Sendable () async throws -> String,
        hasEnded: @escaping @Sendable () async throws -> Bool
    ) {
        self.tailLines = Swift.max(tailLines, 0)
        self.firstRead = firstRead
        self.read = read
        self.hasEnded = hasEnded
    }

    /// The last `count` lines of `log` (a final line without a newline counts as a line).
    public static func lastLines(_ log: String, _ count: Int) -> Substring {
        guard count > 0 else { return log[log.endIndex...] }
        var index = log.endIndex
        var seen = 0
        // A trailing newline ends the last line; it does not start a new one.
        if log.last == "\n" { index = log.index(before: index) }
        while index > log.startIndex {
            let before = log.index(before: index)
            if log[before] == "\n" {
                seen += 1
                if seen == count { return log[index...] }
            }
            index = before
        }
        return log[...]
    }

    public func makeAsyncIterator() -> Iterator { Iterator(follower: self) }

    /// Reads, waits, reads again; see ``JobLogFollower``.
    public struct Iterator: AsyncIteratorProtocol {
        let follower: JobLogFollower
        /// UTF-8 bytes of the log already yielded (or skipped before the tail).
        var shown: Int?
        /// The last bytes already yielded: a later read that does not hold them at the same place
        /// is not the same log grown.
        var anchor: [UInt8] = []
        var finished = false
        var failures = 0
        let started = ContinuousClock.now

        init(follower: JobLogFollower) { self.follower = follower }

        public mutating func next() async throws -> String? {
            while !finished {
                guard let shown else {
                    let (log, ended) = try await firstRead()
                    remember(log.utf8, upTo: log.utf8.count)
                    finished = ended
                    let tail = JobLogFollower.lastLines(log, follower.tailLines)
                    if !tail.isEmpty { return String(tail) }
                    continue
                }
                if ContinuousClock.now - started >= follower.maximumDuration {
                    finished = true
                    return nil
                }
                try await Task.sleep(for: follower.interval)
                // Asked before reading: a read after the job ended holds everything it printed.
                let ended: Bool
                let log: String
                do {
                    ended = try await follower.hasEnded()
                    log = try await follower.read()
                    failures = 0
                } catch {
                    failures += 1
                    if failures >= follower.maximumReadFailures { throw error }
                    continue
                }
                finished = ended
                let bytes = log.utf8
                guard bytes.count >= shown,
                    bytes.dropFirst(shown - anchor.count).prefix(anchor.count).elementsEqual(anchor)
                else {
                    remember(bytes, upTo: bytes.count)
                    return "[baton] the log is longer than the reader keeps; following its end from here\n"
                }
                if bytes.count > shown {
                    remember(bytes, upTo: bytes.count)
                    return String(decoding: bytes.dropFirst(shown), as: UTF8.self)
                }
            }
            return nil
        }

        private func firstRead() async throws -> (String, Bool) {
            if let first = follower.firstRead { return first }
            let ended = try await follower.hasEnded()
            return (try await follower.read(), ended)
        }

        private mutating func remember(_ bytes: String.UTF8View, upTo end: Int) {
            shown = end
            anchor = Array(bytes.prefix(end).suffix(64))
        }
    }
}
