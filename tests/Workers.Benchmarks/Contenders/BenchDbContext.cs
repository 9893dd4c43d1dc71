using Microsoft.EntityFrameworkCore;
using Workers.Postgres;

namespace Workers.Benchmarks.Contenders;

/// <summary>
/// The application database of the Workers outbox and inbox workloads: one business table plus the framework's
/// outbox and inbox tables, as an application adds them (<c>AddWorkersOutbox().AddWorkersInbox()</c>).
/// </summary>
internal sealed class BenchDbContext(DbContextOptions<BenchDbContext> options) : DbContext(options)
{
    public const string BusinessTable = "business_rows";

    /// <summary>The business table's DDL (the framework's tables come from <see cref="WorkersSchema"/>).</summary>
    public const string BusinessDdl = $"create table if not exists {BusinessTable} (id bigint primary key, payload text not null)";

    public DbSet<BusinessRow> Rows => Set<BusinessRow>();

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        modelBuilder.AddWorkersOutbox().AddWorkersInbox();
        modelBuilder.Entity<BusinessRow>(row =>
        {
            row.ToTable(BusinessTable);
            row.HasKey(r => r.Id);
            row.Property(r => r.Id).HasColumnName("id").ValueGeneratedNever();
            row.Property(r => r.Payload).HasColumnName("payload");
        });
    }
}

/// <summary>The business row written in the same transaction as the outbox row (same shape as the Npgsql baseline's).</summary>
internal sealed class BusinessRow
{
    public long Id { get; set; }

    public string Payload { get; set; } = string.Empty;
}
