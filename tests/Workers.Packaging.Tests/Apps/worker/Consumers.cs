using MassTransit;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;
using Workers.Postgres;

namespace Fresh;

public sealed record Ping(Guid Id, string Text);

public sealed record Pong(Guid Id);

public sealed class FreshDb(DbContextOptions<FreshDb> options) : DbContext(options)
{
    protected override void OnModelCreating(ModelBuilder modelBuilder) => modelBuilder.AddWorkersOutbox().AddWorkersInbox();
}

// Fails its first attempt (a transient failure: redelivered through the broker's delay ladder), then publishes a
// Pong through the transactional outbox, committed with the inbox record.
public sealed class PingConsumer(IWorkersOutbox outbox, ILogger<PingConsumer> logger) : IConsumer<Ping>
{
    private static int attempts;

    public Task Consume(ConsumeContext<Ping> context)
    {
        var attempt = Interlocked.Increment(ref attempts);
        if (attempt == 1)
        {
            throw new InvalidOperationException("The first attempt fails on purpose.");
        }

        outbox.Publish(new Pong(context.Message.Id));
        logger.LogInformation("Ping {Id} consumed on attempt {Attempt}", context.Message.Id, attempt);
        return Task.CompletedTask;
    }
}

public sealed class PongConsumer(ILogger<PongConsumer> logger) : IConsumer<Pong>
{
    public Task Consume(ConsumeContext<Pong> context)
    {
        logger.LogInformation("Pong {Id} received", context.Message.Id);
        return Task.CompletedTask;
    }
}
