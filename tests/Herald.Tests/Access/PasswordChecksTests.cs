using System.Net;
using Herald.Access;
using Herald.Relay;
using Microsoft.Extensions.Options;

namespace Herald.Tests.Access;

/// <summary><see cref="PasswordChecks"/> on its own: what counts as one client, and the node's
/// bound on hashes at once. (The console and the relay are tested through it over HTTP and SMTP in
/// the integration tests.)</summary>
public sealed class PasswordChecksTests
{
    // Cheap to check (the iteration count is stored with the hash): these tests are about counting.
    private static readonly string Hash = RelayPasswords.Hash("right password", iterations: 1000);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task An_ipv6_client_counts_by_its_64_network_and_an_ipv4_one_by_its_address()
    {
        using var checks = new PasswordChecks(Options.Create(new SignInOptions { FailuresPerAddress = 2 }));

        Assert.Equal(PasswordCheckOutcome.Mismatched, (await WrongAsync(checks, "2001:db8::1")).Outcome);
        Assert.Equal(PasswordCheckOutcome.Mismatched, (await WrongAsync(checks, "2001:db8::ffff:2")).Outcome);
        Assert.Equal(PasswordCheckOutcome.AddressLimited, (await RightAsync(checks, "2001:db8::3")).Outcome);
        Assert.Equal(PasswordCheckOutcome.Matched, (await RightAsync(checks, "2001:db8:0:1::1")).Outcome);

        Assert.Equal(PasswordCheckOutcome.Mismatched, (await WrongAsync(checks, "192.0.2.1")).Outcome);
        Assert.Equal(PasswordCheckOutcome.Mismatched, (await WrongAsync(checks, "::ffff:192.0.2.1")).Outcome);
        Assert.Equal(PasswordCheckOutcome.AddressLimited, (await RightAsync(checks, "192.0.2.1")).Outcome);
        Assert.Equal(PasswordCheckOutcome.Matched, (await RightAsync(checks, "192.0.2.2")).Outcome);
    }

    [Fact]
    public async Task A_right_password_costs_nothing_from_the_address_budget()
    {
        using var checks = new PasswordChecks(Options.Create(new SignInOptions { FailuresPerAddress = 1 }));

        for (var i = 0; i < 5; i++)
        {
            Assert.Equal(PasswordCheckOutcome.Matched, (await RightAsync(checks, "192.0.2.1")).Outcome);
        }

        Assert.Equal(PasswordCheckOutcome.Mismatched, (await WrongAsync(checks, "192.0.2.1")).Outcome);
        Assert.Equal(PasswordCheckOutcome.AddressLimited, (await RightAsync(checks, "192.0.2.1")).Outcome);
    }

    [Fact]
    public async Task With_every_hashing_slot_taken_and_the_queue_full_a_check_is_busy_and_looks_nothing_up()
    {
        using var checks = new PasswordChecks(Options.Create(new SignInOptions { HashesAtOnce = 1, QueuedHashes = 0 }));
        var inside = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var first = checks.CheckAsync<string>(IPAddress.Parse("192.0.2.1"), "right password", async _ =>
        {
            inside.SetResult();
            await release.Task;
            return ("app", Hash);
        }, Ct);
        await inside.Task;

        var lookedUp = false;
        var second = await checks.CheckAsync<string>(IPAddress.Parse("192.0.2.2"), "right password", _ =>
        {
            lookedUp = true;
            return Task.FromResult<(string, string)?>(("app", Hash));
        }, Ct);

        Assert.Equal(PasswordCheckOutcome.Busy, second.Outcome);
        Assert.False(lookedUp);
        release.SetResult();
        Assert.Equal(new PasswordCheck<string>(PasswordCheckOutcome.Matched, "app"), await first);
        Assert.Equal(PasswordCheckOutcome.Matched, (await RightAsync(checks, "192.0.2.2")).Outcome);
    }

    private static Task<PasswordCheck<string>> RightAsync(PasswordChecks checks, string client) => CheckAsync(checks, client, "right password");

    private static Task<PasswordCheck<string>> WrongAsync(PasswordChecks checks, string client) => CheckAsync(checks, client, "wrong password");

    private static Task<PasswordCheck<string>> CheckAsync(PasswordChecks checks, string client, string password) =>
        checks.CheckAsync<string>(IPAddress.Parse(client), password, _ => Task.FromResult<(string, string)?>(("app", Hash)), Ct);
}
