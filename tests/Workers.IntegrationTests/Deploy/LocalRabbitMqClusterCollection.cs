using Workers.Testing;
using Xunit;

namespace Workers.IntegrationTests.Deploy;

/// <summary>One private 3-node cluster for every class of the collection, stopped after the last one.</summary>
[CollectionDefinition(Name)]
public sealed class LocalRabbitMqClusterCollection : ICollectionFixture<LocalRabbitMqCluster>
{
    /// <summary>The collection's name.</summary>
    public const string Name = "Local RabbitMQ cluster";
}
