using Xunit;

namespace Workers.FaultTests;

/// <summary>Every fault scenario shares one private broker node and one report, and runs alone.</summary>
[CollectionDefinition(Name)]
public sealed class FaultCollection : ICollectionFixture<FaultNode>, ICollectionFixture<FaultReport>
{
    /// <summary>The collection's name.</summary>
    public const string Name = "fault";
}
