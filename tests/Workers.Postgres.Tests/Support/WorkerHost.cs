using MassTransit;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Workers.Postgres.Outbox;
using Workers.Resilience;

namespace Workers.Postgres.Tests.Support;

/// <summary>Settings of one worker replica in a test.</summary>
public sealed class WorkerHostSettings
{
    public required string ConnectionString { get; init; }

    public required Uri Broker { get; init; }

    public int? BrokerPortOverride { get; init; }

    public string Queue { get; init; } = "orders";

    public bool Consume { get; init; } = true;

    public bool Dispatch { get; init; } = true;

    public int ConcurrentMessageLimit { get; init; } = 16;

    public bool PublisherConfirmation { get; init; } = true;

    public Action<OutboxOptions>? Outbox { get; init; }

    public Func<IReadOnlyList<Guid>, CancellationToken, Task>? AfterPublish { get; init; }

    /// <summary>The endpoint timeout of the OrderPlaced consumer (the Workers timeout stage, outside the inbox); none when null.</summary>
    public TimeSpan? ConsumerTimeout { get; init; }
}

/// <summary>A worker replica: the app's DbContext, outbox, inbox, MassTransit on RabbitMQ.</summary>
public static class WorkerHost
{
    public static IHost Build(WorkerHostSettings settings, ConsumerProbe probe)
    {
        var builder = new HostApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Logging.ClearProviders();
        if (Environment.GetEnvironmentVariable("WORKERS_TEST_LOGS") is { } logFile)
        {
            builder.Logging.AddProvider(new FileLoggerProvider(logFile)).SetMinimumLevel(LogLevel.Debug);
        }

        builder.Services.AddSingleton(probe);
        builder.Services.AddDbContext<TestDb>(o => o.UseWorkersPostgres(settings.ConnectionString));
        builder.Services.AddWorkersOutbox<TestDb>(o =>
        {
            o.PollingInterval = TimeSpan.FromMilliseconds(500);
            o.MaintenanceInterval = TimeSpan.FromMilliseconds(500);
            o.LeaseDuration = TimeSpan.FromSeconds(5);
            o.PublishTimeout = TimeSpan.FromSeconds(3);
            o.RetryDelay = TimeSpan.FromMilliseconds(200);
            o.MaxRetryDelay = TimeSpan.FromSeconds(1);
            o.EnableDispatcher = settings.Dispatch;
            settings.Outbox?.Invoke(o);
        });
        builder.Services.AddSingleton(new OutboxDispatcherHooks { AfterPublish = settings.AfterPublish });
        builder.Services.AddWorkersInbox<TestDb>();
        if (settings.ConsumerTimeout is not null)
        {
            builder.Services.AddWorkersBreakers();
        }

        builder.Services.Configure<MassTransitHostOptions>(o =>
        {
            o.WaitUntilStarted = false;
            o.StopTimeout = TimeSpan.FromSeconds(5);
        });
        builder.Services.AddMassTransit(x =>
        {
            x.AddConsumer<OrderPlacedConsumer>();
            x.AddConsumer<OrderShippedConsumer>();
            x.UsingRabbitMq((context, cfg) =>
            {
                var broker = settings.Broker;
                var user = Uri.UnescapeDataString(broker.UserInfo.Split(':')[0]);
                var password = Uri.UnescapeDataString(broker.UserInfo.Split(':')[1]);
                var vhost = Uri.UnescapeDataString(broker.AbsolutePath.TrimStart('/'));
                cfg.Host(broker.Host, (ushort)(settings.BrokerPortOverride ?? broker.Port), vhost, h =>
                {
                    h.Username(user);
                    h.Password(password);
                    h.PublisherConfirmation = settings.PublisherConfirmation;
                });
                if (settings.Consume)
                {
                    cfg.ReceiveEndpoint(settings.Queue, e =>
                    {
                        e.ConcurrentMessageLimit = settings.ConcurrentMessageLimit;
                        e.PrefetchCount = Math.Max(1, settings.ConcurrentMessageLimit);
                        e.UseMessageRetry(r => r.Interval(30, TimeSpan.FromMilliseconds(300)));
                        if (settings.ConsumerTimeout is { } timeout)
                        {
                            e.UseConsumerTimeout<OrderPlacedConsumer>(context, o => o.Timeout = timeout);
                        }

                        e.UseWorkersInbox(context);
                        e.ConfigureConsumer<OrderPlacedConsumer>(context);
                    });
                    cfg.ReceiveEndpoint(settings.Queue + "-shipped", e =>
                    {
                        e.UseWorkersInbox(context);
                        e.ConfigureConsumer<OrderShippedConsumer>(context);
                    });
                }
            });
        });
        return builder.Build();
    }

    /// <summary>Creates the app's tables (EnsureCreated) and the Workers schema (trigger included).</summary>
    public static async Task CreateSchemaAsync(string connectionString, CancellationToken cancellationToken)
    {
        var options = new DbContextOptionsBuilder<TestDb>();
        options.UseWorkersPostgres(connectionString);
        await using var db = new TestDb(options.Options);
        await db.Database.EnsureCreatedAsync(cancellationToken);
        await WorkersSchema.ApplyAsync(db, cancellationToken);
    }

    /// <summary>Writes messages through the outbox in one transaction (committed or rolled back).</summary>
    public static async Task<IReadOnlyList<Guid>> WriteAsync(IServiceProvider services, IEnumerable<OrderPlaced> messages, bool commit, CancellationToken cancellationToken, Uri? sendTo = null)
    {
        await using var scope = services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<TestDb>();
        var outbox = scope.ServiceProvider.GetRequiredService<IWorkersOutbox>();
        var ids = new List<Guid>();
        var list = messages.ToList();
        await db.Database.CreateExecutionStrategy().ExecuteAsync(
            async ct =>
            {
                ids.Clear();
                db.ChangeTracker.Clear();
                await using var transaction = await db.Database.BeginTransactionAsync(ct);
                foreach (var message in list)
                {
                    var options = message.Key is null ? null : new OutboxMessageOptions { OrderingKey = message.Key };
                    ids.Add(sendTo is null ? outbox.Publish(message, options) : outbox.Send(sendTo, message, options));
                }

                await db.SaveChangesAsync(ct);
                if (commit)
                {
                    await transaction.CommitAsync(ct);
                }
                else
                {
                    await transaction.RollbackAsync(ct);
                }
            },
            cancellationToken);
        return ids;
    }
}
