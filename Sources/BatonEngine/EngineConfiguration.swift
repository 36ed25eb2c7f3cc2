import BatonCore
import BatonKafka
import BatonRay
import Foundation

/// Settings shared by Baton's roles. Required values in `init`; the rest have documented defaults.
public struct EngineConfiguration: Sendable {
    /// Kafka bootstrap servers, `host:port`.
    public var brokers: [String]
    /// Topic names.
    public var topics = EventTopics()
    /// Prefix of consumer group ids (`<prefix>.coordinator`, `<prefix>.worker.<pool>`). Default: `baton`.
    public var groupPrefix = "baton"
    /// Pools this process's stage workers serve, one consumer group (`<prefix>.worker.<pool>`) each,
    /// so every pool scales on its own lag. Default: `["default", "cpu", "gpu"]`.
    public var pools = ["default", "cpu", "gpu"]
    /// Partitions of topics Baton creates. Default: 8.
    public var partitions: Int32 = 8
    /// Replicas of each partition of the topics Baton creates; set it to the cluster's usual 3 in
    /// production, so that `acks=all` means what it says. Default: 1 (one local broker).
    public var topicReplicationFactor: Int16 = 1
    /// `min.insync.replicas` of the topics Baton creates; `nil` keeps the broker's default.
    /// Default: nil.
    public var topicMinInsyncReplicas: Int?
    /// How often `serve` checks that its topics exist and re-creates missing ones (after a broker
    /// lost its data). Default: 10 s.
    public var topicCheckInterval: Duration = .seconds(10)
    /// This process's name in leases and event sources. Default: `<host>-<pid>`.
    public var instanceID = "\(ProcessInfo.processInfo.hostName)-\(ProcessInfo.processInfo.processIdentifier)"
    /// How long a worker's lease on an attempt lasts without renewal. Default: 30 s.
    public var leaseDuration: Duration = .seconds(30)
    /// How often the sweeper looks for stuck work. Default: 5 s.
    public var sweepInterval: Duration = .seconds(5)
    /// How long a queued attempt or an unhandled outcome may wait before the sweeper re-sends it. Default: 30 s.
    public var redriveAfter: Duration = .seconds(30)
    /// How long a published `pipeline.requested` from the outbox may go unhandled by the
    /// coordinator before the sweeper publishes it again (a broker may have lost it with its
    /// data); longer than ``redriveAfter``, since a coordinator that is only slow or rejoining
    /// its group would just see a duplicate. Default: 120 s.
    public var requestRedriveAfter: Duration = .seconds(120)
    /// How long an attempt may wait in a pool that no live worker serves before it fails with
    /// `no worker for pool <pool>`. Attempts of a pool with live (busy) workers wait as long as they
    /// must. Leave room for autoscaling from zero (KEDA) to start a worker. Default: 30 minutes.
    public var queueTimeout: Duration = .seconds(1800)
    /// How often each stage worker records that it serves its pool; a worker not heard from for
    /// three intervals is not live. Default: 10 s.
    public var workerHeartbeatInterval: Duration = .seconds(10)
    /// How often the relay polls the outbox when no NOTIFY arrives. Default: 500 ms.
    public var relayPollInterval: Duration = .milliseconds(500)
    /// Most outbox events published per batch. Default: 256.
    public var relayBatchSize = 256
    /// The longest the relay waits for one pass over the outbox (a pass sends in parallel and each
    /// send ends within the producer's 30 s message timeout); a pass still running then is left
    /// behind, logged, and a new one starts. Default: 60 s.
    public var relayPassTimeout: Duration = .seconds(60)
    /// Most attempts one worker process executes at once. Default: 32.
    public var workerConcurrency = 32
    /// Whether a worker hands off without the broker: it applies the outcome of an attempt it ran
    /// in the coordinator's transaction and claims the next attempt of its pool at once (every
    /// event is still published; their consumers then find the work done). Off: each hand-off
    /// waits for the outcome's and the `stage.ready` event's trips through the broker.
    /// Default: on (`BATON_DIRECT_HANDOFF=off` turns it off).
    public var directHandOff = true
    /// Tries of a message whose handling fails with an error of unknown kind before it is
    /// dead-lettered. Transient failures (database or broker away) never count: they are waited out.
    /// Default: 5.
    public var maxHandlingAttempts = 5
    /// How long published outbox rows are kept. Default: 1 day.
    public var outboxRetention: Duration = .seconds(86_400)
    /// How long handled event ids are remembered for dedupe; longer than the topics' retention.
    /// Default: 14 days.
    public var inboxRetention: Duration = .seconds(14 * 86_400)
    /// Kafka consumer group session timeout: how soon a dead member's partitions move. Tansu answers a
    /// JoinGroup after about half of it, so it also bounds how long a rebalance takes. Default: 6 s.
    public var sessionTimeout: Duration = .seconds(6)
    /// Kafka consumer group rebalance bound (`max.poll.interval.ms`); Baton never holds a message
    /// for long, so this can be short, which also keeps rebalances short. Default: 30 s.
    public var maxPollInterval: Duration = .seconds(30)
    /// What runs `ray` stages (the Ray Jobs API of a cluster, or KubeRay); `nil` fails them with
    /// a clear error. Default: nil.
    public var rayLauncher: (any RayJobLauncher)?
    /// The shortest wait between two polls of a running Ray job; the wait is a twentieth of the
    /// time the job has been followed, up to `rayMaxPollInterval`. Default: 100 ms.
    public var rayPollInterval: Duration = .milliseconds(100)
    /// The longest wait between two polls of a running Ray job: it bounds how late Baton sees a
    /// job end. Default: 500 ms.
    public var rayMaxPollInterval: Duration = .milliseconds(500)
    /// How long to wait for Ray to confirm a stopped job. Default: 30 s.
    public var rayStopTimeout: Duration = .seconds(30)
    /// The driver of `rollout` stages, by target (the Ray Serve canary, Argo Rollouts); a stage
    /// whose target has none fails as `rollout_unconfigured`. Default: none.
    public var rolloutDrivers: [RolloutSpec.Target: any RolloutDriver] = [:]
    /// How often the sweeper checks that every champion a rollout put on a platform that can lose
    /// it (Ray Serve: ``BatonCore/RolloutDriver/canLoseServing``) is still served there, and deploys
    /// a lost one again; `nil` never checks. Default: 60 s.
    public var serveRestoreInterval: Duration? = .seconds(60)
    /// How often the sweeper reads the engine's backlog (outbox, runs, attempts per pool, mirror
    /// lag) from the database for `/metrics`. Default: 10 s.
    public var statisticsInterval: Duration = .seconds(10)
    /// How often the scheduler (beside the coordinator) looks for due schedule ticks: how late a
    /// tick may fire. Default: 1 s.
    public var scheduleInterval: Duration = .seconds(1)
    /// How long a running run may go with no attempt queued or running and none ending before
    /// `/metrics` counts it as stalled (`baton_runs_stalled`). Default: 5 minutes.
    public var stalledRunAfter: Duration = .seconds(300)
    /// The most champions of one platform the sweeper checks in one pass; the next pass goes on
    /// after the last one checked, so every model is checked in turn. Default: 20.
    public var serveRestoreBatch = 20
    /// Where jobs write outputs: `<root>/<run>/<stage>/<attempt>`. Default: `file:///tmp/baton-artifacts`.
    public var artifactRoot = "file:///tmp/baton-artifacts"
    /// Relative `runtime_env.working_dir` paths are resolved against this folder. Default: the
    /// current directory.
    public var jobsRoot = URL(filePath: FileManager.default.currentDirectoryPath)
    /// Folders besides ``jobsRoot`` where a spec's local inputs (`file://` URIs, absolute
    /// paths) may live; a request naming a local input elsewhere is rejected. Default: none.
    public var dataRoots: [URL] = []
    /// How the cache checks that an earlier attempt's outputs still exist, by URI scheme
    /// (`file://` built in; the command line adds `s3://`). Outputs of other schemes are never reused.
    public var artifactPresence = ArtifactPresenceChecks()
    /// librdkafka properties passed through to every client (SASL, TLS, ...). Default: none.
    public var kafkaProperties: [String: String] = [:]

    /// The largest record the producer may send: librdkafka's `message.max.bytes` from
    /// ``kafkaProperties``, else its default of 1,000,000 bytes. The relay parks larger events
    /// instead of sending them.
    public var maxMessageBytes: Int { kafkaProperties["message.max.bytes"].flatMap(Int.init) ?? 1_000_000 }

    /// The rules of `BATON_SPEC_POLICY` (inline specs, entrypoints, images, `runtime_env` keys);
    /// their paths are replaced by ``pathPolicy`` in ``specPolicy``. Default: nil, the defaults.
    public var specRules: SpecPolicy?

    /// Where specs may point at local files: ``jobsRoot`` and ``dataRoots``.
    public var pathPolicy: LocalPathPolicy { LocalPathPolicy(jobsRoot: jobsRoot, dataRoots: dataRoots) }

    /// What a spec may ask for: ``specRules`` over ``pathPolicy``.
    public var specPolicy: SpecPolicy {
        var policy = specRules ?? SpecPolicy(paths: pathPolicy)
        policy.paths = pathPolicy
        return policy
    }

    /// Settings for the Kafka cluster at `brokers`, every other setting at its default.
    public init(brokers: [String]) {
        self.brokers = brokers
    }

    /// A consumer configuration for one of Baton's groups.
    func consumerConfiguration(group: String, topics: [String]) -> KafkaConsumerConfiguration {
        var configuration = KafkaConsumerConfiguration(
            bootstrapServers: brokers, groupID: "\(groupPrefix).\(group)", topics: topics)
        configuration.clientID = "baton-\(group)-\(instanceID)"
        configuration.sessionTimeout = sessionTimeout
        configuration.heartbeatInterval = sessionTimeout / 5
        configuration.maxPollInterval = maxPollInterval
        // Baton's hops are latency-bound: do not let an empty fetch sit for librdkafka's 500 ms default.
        configuration.extra = ["fetch.wait.max.ms": "50"].merging(kafkaProperties) { $1 }
        let lag = ConsumerLag(group: configuration.groupID)
        configuration.statisticsInterval = min(statisticsInterval, .seconds(5))
        configuration.onStatistics = { lag.record($0) }
        return configuration
    }

    /// The inbox consumer name of the coordinator.
    public static let coordinatorConsumer = "coordinator"
}
