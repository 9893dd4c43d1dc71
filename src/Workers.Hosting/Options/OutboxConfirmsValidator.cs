using Microsoft.Extensions.Options;

namespace Workers.Hosting;

/// <summary>
/// The outbox marks a row dispatched when its publish returns, which is only a delivery guarantee when the broker
/// confirms it: a worker that dispatches the outbox refuses to start with <c>Workers:RabbitMq:PublisherConfirmation</c> off.
/// </summary>
internal sealed class OutboxConfirmsValidator(IOptionsMonitor<WorkersOptions> workers) : IValidateOptions<Workers.Postgres.OutboxOptions>
{
    public ValidateOptionsResult Validate(string? name, Workers.Postgres.OutboxOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        bool confirms;
        try
        {
            confirms = workers.CurrentValue.RabbitMq?.PublisherConfirmation ?? true;
        }
        catch (OptionsValidationException)
        {
            return ValidateOptionsResult.Success; // WorkersOptions reports its own errors at start.
        }

        return Check(options.EnableDispatcher, confirms) is { } error ? ValidateOptionsResult.Fail(error) : ValidateOptionsResult.Success;
    }

    /// <summary>The error, or null when the combination is safe.</summary>
    internal static string? Check(bool dispatcherEnabled, bool publisherConfirmation) =>
        dispatcherEnabled && !publisherConfirmation
            ? $"{WorkersOptions.SectionName}:RabbitMq:PublisherConfirmation is false, but the outbox dispatcher runs in this worker ({WorkersOptions.SectionName}:Outbox:EnableDispatcher): without publisher confirms a publish would be marked dispatched although the broker never confirmed it. Set {WorkersOptions.SectionName}:RabbitMq:PublisherConfirmation to true, or {WorkersOptions.SectionName}:Outbox:EnableDispatcher to false in this worker."
            : null;
}
