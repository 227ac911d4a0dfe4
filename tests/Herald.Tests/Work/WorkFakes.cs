using System.Data.Common;
using Herald.Work;
using Microsoft.Extensions.Time.Testing;

namespace Herald.Tests.Work;

/// <summary>What a database driver throws when the server is unreachable.</summary>
internal sealed class UnreachableDatabaseException() : DbException("The database is unreachable.");

/// <summary>Items for <see cref="WorkLoop{TItem}"/> tests: each does what its <see cref="Work"/>
/// says; the store's side (due times, failure counts, quarantine) is kept in memory.</summary>
internal sealed class FakeItem(string name, Func<int, Task>? work = null)
{
    public string Name { get; } = name;

    /// <summary>Given how many times the item was worked on before.</summary>
    public Func<int, Task> Work { get; set; } = work ?? (_ => Task.CompletedTask);

    public int Runs { get; set; }

    public int Failures { get; set; }

    public string? LastError { get; set; }

    public DateTimeOffset DueAt { get; set; } = DateTimeOffset.MinValue;

    public string State { get; set; } = "pending";
}

internal sealed class FakeItems(TimeProvider time, params FakeItem[] items) : IWorkItems<FakeItem>
{
    private readonly Lock _lock = new();

    public List<FakeItem> All { get; } = [.. items];

    public List<(FakeItem Item, DateTimeOffset RetryAt)> Postponed { get; } = [];

    public Func<Exception?> ClaimFails { get; set; } = () => null;

    public string Kind => "fake";

    public string NameOf(FakeItem item) => item.Name;

    public int FailuresOf(FakeItem item) => item.Failures;

    public Task<IReadOnlyList<FakeItem>> ClaimAsync(int most, CancellationToken cancellationToken)
    {
        if (ClaimFails() is { } error)
        {
            throw error;
        }

        lock (_lock)
        {
            var now = time.GetUtcNow();
            var due = All.Where(i => i.State == "pending" && i.DueAt <= now).Take(most).ToArray();
            foreach (var item in due)
            {
                item.State = "claimed";
            }

            return Task.FromResult<IReadOnlyList<FakeItem>>(due);
        }
    }

    public async Task ProcessAsync(FakeItem item, CancellationToken cancellationToken)
    {
        var run = item.Runs++;
        await item.Work(run);
        lock (_lock)
        {
            item.State = "done";
        }
    }

    public Task FailAsync(FakeItem item, ItemFailure failure, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            item.Failures = failure.Failures;
            item.LastError = failure.Reason;
            item.State = failure.Quarantined ? "failed" : "pending";
            item.DueAt = failure.RetryAt ?? DateTimeOffset.MaxValue;
        }

        return Task.CompletedTask;
    }

    public Task PostponeAsync(FakeItem item, DateTimeOffset retryAt, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            Postponed.Add((item, retryAt));
            item.State = "pending";
            item.DueAt = retryAt;
        }

        return Task.CompletedTask;
    }
}

internal static class Eventually
{
    /// <summary>Polls until the condition holds; a test that waits for a background loop.</summary>
    public static async Task TrueAsync(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"Never happened: {what}");
            }

            await Task.Delay(10);
        }
    }

    public static FakeTimeProvider Clock() => new(new DateTimeOffset(2031, 3, 4, 9, 0, 0, TimeSpan.Zero));
}
