using System.Data.Common;

namespace Herald.Storage.Database;

/// <summary>
/// A write transaction together with whatever keeps other writers out while it runs (on SQLite,
/// the node's turn at the database's single writer). Disposing it rolls back what was not
/// committed and gives the turn to the next writer.
/// </summary>
public sealed class WriteTransaction(DbTransaction transaction, IDisposable? turn) : IAsyncDisposable
{
    /// <summary>The transaction to pass to every command of the write.</summary>
    public DbTransaction Transaction => transaction;

    public Task CommitAsync(CancellationToken cancellationToken) => transaction.CommitAsync(cancellationToken);

    public async ValueTask DisposeAsync()
    {
        try
        {
            await transaction.DisposeAsync().ConfigureAwait(false);
        }
        finally
        {
            turn?.Dispose();
        }
    }
}
