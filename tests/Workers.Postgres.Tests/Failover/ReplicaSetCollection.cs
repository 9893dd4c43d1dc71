using Xunit;

namespace Workers.Postgres.Tests.Failover;

/// <summary>The test classes that start a <see cref="Workers.Testing.LocalPostgresReplicaSet"/>: one at a time (they share its ports).</summary>
[CollectionDefinition(Name)]
public sealed class ReplicaSetCollection
{
    public const string Name = "postgres-replica-set";
}
