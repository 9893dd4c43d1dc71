using Microsoft.EntityFrameworkCore;

namespace Workers.Postgres.Tests.Support;

public sealed class TestDb(DbContextOptions<TestDb> options) : DbContext(options)
{
    public DbSet<Effect> Effects => Set<Effect>();

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        modelBuilder.Entity<Effect>(e =>
        {
            e.ToTable("effects");
            e.HasKey(x => x.Id);
            e.Property(x => x.Id).HasColumnName("id");
            e.Property(x => x.Run).HasColumnName("run");
            e.Property(x => x.Number).HasColumnName("number");
            e.Property(x => x.Key).HasColumnName("key");
            e.Property(x => x.MessageId).HasColumnName("message_id");
        });
        modelBuilder.AddWorkersOutbox().AddWorkersInbox();
    }
}

/// <summary>A business effect of a consumer (no unique constraint: a second run would show).</summary>
public sealed class Effect
{
    public long Id { get; set; }

    public Guid Run { get; set; }

    public int Number { get; set; }

    public string? Key { get; set; }

    public Guid MessageId { get; set; }
}

public sealed record OrderPlaced(Guid Run, int Number, string? Key = null, bool FollowUp = false);

public sealed record OrderShipped(Guid Run, int Number);
