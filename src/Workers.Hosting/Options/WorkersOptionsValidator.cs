using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

namespace Workers.Hosting;

/// <summary>
/// Validates <see cref="WorkersOptions"/> as a whole and reports every error at once, each with the option's
/// configuration path (e.g. <c>Workers:Endpoints:orders:PrefetchCount</c>). Never echoes a password.
/// </summary>
internal sealed class WorkersOptionsValidator(IConfiguration? configuration = null) : IValidateOptions<WorkersOptions>
{
    // Sections under Workers bound to options of other packages.
    private static readonly Dictionary<string, Type> SiblingSections = new(StringComparer.OrdinalIgnoreCase)
    {
        ["Outbox"] = typeof(Workers.Postgres.OutboxOptions),
        ["Inbox"] = typeof(Workers.Postgres.InboxOptions),
    };

    public ValidateOptionsResult Validate(string? name, WorkersOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var errors = Collect(options);
        if (configuration is not null)
        {
            UnknownSettings.Collect(configuration.GetSection(WorkersOptions.SectionName), typeof(WorkersOptions), errors, SiblingSections);
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }

    /// <summary>All errors of the options, in a stable order.</summary>
    public static List<string> Collect(WorkersOptions options)
    {
        const string root = WorkersOptions.SectionName;
        var errors = new List<string>();
        AnnotationErrors(options, root, errors);

        if (options.ShutdownTimeout < TimeSpan.FromSeconds(1) || options.ShutdownTimeout > TimeSpan.FromHours(1))
        {
            errors.Add($"{root}:ShutdownTimeout must be between 00:00:01 and 01:00:00 (was {options.ShutdownTimeout}).");
        }

        if (options.Telemetry is { } telemetry && !Enum.IsDefined(telemetry.MassTransitFaultLogLevel))
        {
            errors.Add($"{root}:Telemetry:MassTransitFaultLogLevel must be one of {string.Join(", ", Enum.GetNames<Microsoft.Extensions.Logging.LogLevel>())} (was {(int)telemetry.MassTransitFaultLogLevel}).");
        }

        if (options.ConsumerWatchdog is { } watchdog)
        {
            if (watchdog.Interval < TimeSpan.FromSeconds(1) || watchdog.Interval > TimeSpan.FromMinutes(10))
            {
                errors.Add($"{root}:ConsumerWatchdog:Interval must be between 00:00:01 and 00:10:00 (was {watchdog.Interval}).");
            }

            if (watchdog.StallTimeout < TimeSpan.FromSeconds(1) || watchdog.StallTimeout > TimeSpan.FromHours(1))
            {
                errors.Add($"{root}:ConsumerWatchdog:StallTimeout must be between 00:00:01 and 01:00:00 (was {watchdog.StallTimeout}).");
            }
        }

        if (options.FailureStore is { } store)
        {
            if (store.BatchSize is < 1 or > FailureStoreOptions.MaxBatchSize)
            {
                errors.Add($"{root}:FailureStore:BatchSize must be between 1 and {FailureStoreOptions.MaxBatchSize} (was {store.BatchSize}).");
            }

            if (store.RetryDelay < TimeSpan.FromSeconds(1) || store.RetryDelay > TimeSpan.FromMinutes(10))
            {
                errors.Add($"{root}:FailureStore:RetryDelay must be between 00:00:01 and 00:10:00 (was {store.RetryDelay}).");
            }

            if (store.Schema is not null && string.IsNullOrWhiteSpace(store.Schema))
            {
                errors.Add($"{root}:FailureStore:Schema must not be blank (leave it unset for public).");
            }
        }

        var rabbit = options.RabbitMq;
        if (rabbit is not null)
        {
            var path = $"{root}:RabbitMq";
            if (!BrokerAddress.TryParse(rabbit.Uri, out _, out var uriError))
            {
                errors.Add($"{path}:Uri {uriError} (or set {RabbitMqOptions.UriVariable}).");
            }

            if (!string.IsNullOrWhiteSpace(rabbit.ManagementUri)
                && (!System.Uri.TryCreate(rabbit.ManagementUri, UriKind.Absolute, out var management) || management.Scheme is not ("http" or "https")))
            {
                errors.Add($"{path}:ManagementUri must be an absolute http:// or https:// URI of the management API (was '{BrokerAddress.Mask(rabbit.ManagementUri)}'; or set {RabbitMqOptions.ManagementUriVariable}).");
            }

            for (var i = 0; i < rabbit.ClusterNodes.Count; i++)
            {
                if (!BrokerAddress.TryParseNode(rabbit.ClusterNodes[i], out _, out _))
                {
                    errors.Add($"{path}:ClusterNodes:{i} must be host:port with a port from 1 to 65535 (was '{rabbit.ClusterNodes[i]}').");
                }
            }

            if (rabbit.PrefetchCount is < 1 or > ushort.MaxValue)
            {
                errors.Add($"{path}:PrefetchCount must be between 1 and 65535 (was {rabbit.PrefetchCount}).");
            }
        }

        if (options.Postgres is { } postgres)
        {
            try
            {
                _ = new Npgsql.NpgsqlConnectionStringBuilder(postgres.ConnectionString);
            }
            catch (ArgumentException exception)
            {
                // The builder's message names the bad keyword, never a value.
                errors.Add($"{root}:Postgres:ConnectionString is not a valid Npgsql connection string ({exception.Message}) (or set {PostgresOptions.ConnectionStringVariable}).");
            }
        }

        ValidateEndpoint($"{root}:Defaults", options.Defaults, rabbit, errors);
        foreach (var (endpoint, settings) in options.Endpoints.OrderBy(e => e.Key, StringComparer.Ordinal))
        {
            var path = $"{root}:Endpoints:{endpoint}";
            if (string.IsNullOrWhiteSpace(endpoint) || endpoint.EndsWith("_error", StringComparison.Ordinal) || endpoint.EndsWith("_skipped", StringComparison.Ordinal))
            {
                errors.Add($"{path} is not a valid endpoint name (empty, or ends with _error/_skipped, which are dead-letter queues).");
            }

            if (settings is null)
            {
                errors.Add($"{path} has no settings.");
                continue;
            }

            ValidateEndpoint(path, settings, rabbit, errors);
            var effective = EffectiveEndpoint.Resolve(options, endpoint, inboxAvailable: false);
            if (effective.Bulkhead is { } bulkhead && effective.PrefetchCount < bulkhead.PermitLimit + bulkhead.QueueLimit)
            {
                errors.Add($"{path}:PrefetchCount must be at least Bulkhead:PermitLimit + Bulkhead:QueueLimit = {bulkhead.PermitLimit + bulkhead.QueueLimit} (is {effective.PrefetchCount}), or the bulkhead's queue can never fill.");
            }
        }

        return errors;
    }

    private static void ValidateEndpoint(string path, EndpointOptions settings, RabbitMqOptions? rabbit, List<string> errors)
    {
        if (settings.QueueType is { } type && !Enum.IsDefined(type))
        {
            errors.Add($"{path}:QueueType must be Classic or Quorum (was {type}).");
        }

        var prefetch = settings.PrefetchCount ?? rabbit?.PrefetchCount ?? RabbitMqOptions.DefaultPrefetchCount;
        if (settings.PrefetchCount is < 1 or > ushort.MaxValue)
        {
            errors.Add($"{path}:PrefetchCount must be between 1 and 65535 (was {settings.PrefetchCount}).");
        }

        if (settings.ConcurrentMessageLimit is { } limit && (limit < 1 || limit > prefetch))
        {
            errors.Add($"{path}:ConcurrentMessageLimit must be between 1 and the prefetch count {prefetch} (was {limit}).");
        }

        if (settings.Redelivery is { } redelivery)
        {
            errors.AddRange(redelivery.Validate($"{path}:Redelivery"));
        }

        if (settings.DeadLetter is { } deadLetter)
        {
            errors.AddRange(deadLetter.Validate($"{path}:DeadLetter"));
        }

        if (settings.CircuitBreaker is { } breaker)
        {
            errors.AddRange(breaker.Validate($"{path}:CircuitBreaker"));
        }

        if (settings.Bulkhead is { } bulkhead)
        {
            errors.AddRange(bulkhead.Validate($"{path}:Bulkhead"));
        }

        if (settings.Timeout is { } timeout)
        {
            errors.AddRange(timeout.Validate($"{path}:Timeout"));
        }
    }

    private static void AnnotationErrors(object instance, string path, List<string> errors)
    {
        var results = new List<ValidationResult>();
        if (Validator.TryValidateObject(instance, new ValidationContext(instance), results, validateAllProperties: true))
        {
            return;
        }

        foreach (var result in results)
        {
            var members = result.MemberNames.Any() ? result.MemberNames : [string.Empty];
            foreach (var member in members)
            {
                errors.Add($"{path}{(member.Length > 0 ? ":" + member : string.Empty)}: {result.ErrorMessage}");
            }
        }
    }
}
