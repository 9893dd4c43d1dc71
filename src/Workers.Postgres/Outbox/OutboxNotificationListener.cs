using Microsoft.Extensions.Logging;
using Npgsql;

namespace Workers.Postgres.Outbox;

/// <summary>
/// Holds a dedicated connection with <c>LISTEN</c> on the outbox channel; the insert trigger's <c>pg_notify</c>
/// is delivered on commit (never for rolled-back rows), to every replica including this one.
/// Reconnects with back-off; the dispatcher keeps polling meanwhile.
/// </summary>
internal static class OutboxNotificationListener
{
    public static async Task RunAsync(string connectionString, string channel, OutboxSignal signal, TimeProvider timeProvider, ILogger logger, CancellationToken cancellationToken)
    {
        var builder = new NpgsqlConnectionStringBuilder(connectionString)
        {
            Pooling = false,
            KeepAlive = 5,
            Multiplexing = false,
        };
        var delay = TimeSpan.FromMilliseconds(200);
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                var connection = new NpgsqlConnection(builder.ConnectionString);
                await using var connectionDisposal = connection.ConfigureAwait(false);
                connection.Notification += (_, _) => signal.Set();
                await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
                var listen = new NpgsqlCommand($"LISTEN \"{channel}\"", connection);
                await using (listen.ConfigureAwait(false))
                {
                    await listen.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
                }

                signal.Set(); // rows may have been committed while we were not listening
                delay = TimeSpan.FromMilliseconds(200);
                while (!cancellationToken.IsCancellationRequested)
                {
                    await connection.WaitAsync(cancellationToken).ConfigureAwait(false);
                }
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (e is NpgsqlException or IOException or TimeoutException or InvalidOperationException or System.Net.Sockets.SocketException)
            {
                OutboxLog.ListenerLost(logger, e);
                await Task.Delay(delay, timeProvider, cancellationToken).ConfigureAwait(false);
                delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, TimeSpan.FromSeconds(5).Ticks));
            }
        }
    }
}
