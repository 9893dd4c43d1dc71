using Microsoft.EntityFrameworkCore;
using Workers.Postgres;

namespace Workers.Sample.Data;

/// <summary>The sample's database: its effects, plus the framework's outbox and inbox tables.</summary>
public sealed class SampleDbContext(DbContextOptions<SampleDbContext> options) : DbContext(options)
{
    /// <summary>Name of the effects table.</summary>
    public const string EffectsTable = "sample_effects";

    /// <summary>What the consumers did: one row per applied effect (a duplicate effect would be a second row).</summary>
    public DbSet<OrderEffect> Effects => Set<OrderEffect>();

    /// <inheritdoc />
    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        ArgumentNullException.ThrowIfNull(modelBuilder);
        modelBuilder.AddWorkersOutbox().AddWorkersInbox();
        modelBuilder.Entity<OrderEffect>(effect =>
        {
            effect.ToTable(EffectsTable);
            effect.HasKey(e => e.Id);
            effect.Property(e => e.Id).HasColumnName("id").UseIdentityByDefaultColumn();
            effect.Property(e => e.OrderId).HasColumnName("order_id");
            effect.Property(e => e.Kind).HasColumnName("kind");
            effect.Property(e => e.MessageId).HasColumnName("message_id");
            effect.Property(e => e.AppliedAt).HasColumnName("applied_at");
            effect.HasIndex(e => e.OrderId);
        });
    }
}

/// <summary>One applied effect of a consumer.</summary>
public sealed class OrderEffect
{
    /// <summary>Row id.</summary>
    public long Id { get; set; }

    /// <summary>The order.</summary>
    public Guid OrderId { get; set; }

    /// <summary><c>accepted</c> (payment taken, order accepted) or <c>notified</c> (customer told).</summary>
    public string Kind { get; set; } = string.Empty;

    /// <summary>The message that caused it.</summary>
    public Guid? MessageId { get; set; }

    /// <summary>When it was applied.</summary>
    public DateTimeOffset AppliedAt { get; set; }
}
