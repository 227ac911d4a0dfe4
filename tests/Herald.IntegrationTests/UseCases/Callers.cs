using Herald.Access;
using Herald.Scopes;

namespace Herald.IntegrationTests.UseCases;

/// <summary>What a use case answered one caller: done, or the kind of refusal.</summary>
public enum Outcome
{
    Done,
    NotAllowed,
    NotFound,
    Invalid,
    Conflict,
}

/// <summary>
/// The callers every use-case test asks, as API keys: a sender of <c>/hr</c>, administrators of
/// <c>/hr</c>, of its sibling <c>/hr2</c>, of the look-alike <c>/hr.x</c>, of the child
/// <c>/hr/payroll</c>, and of <c>/</c>. The scopes exist in every test database.
/// </summary>
public static class Callers
{
    public static readonly string[] Scopes = ["/hr", "/hr2", "/hr.x", "/hr/payroll"];

    public static readonly IReadOnlyList<(string Name, Caller Caller)> All =
    [
        ("sender /hr", Key("/hr", ApiKeyRole.Sender)),
        ("admin /hr", Key("/hr", ApiKeyRole.Admin)),
        ("admin /hr2", Key("/hr2", ApiKeyRole.Admin)),
        ("admin /hr.x", Key("/hr.x", ApiKeyRole.Admin)),
        ("admin /hr/payroll", Key("/hr/payroll", ApiKeyRole.Admin)),
        ("admin /", Key("/", ApiKeyRole.Admin)),
    ];

    public static Outcome Of<T>(Result<T> result) => result.Refusal is { } refusal ? Of(refusal) : Outcome.Done;

    public static Outcome Of(Refusal refusal) => refusal.Kind switch
    {
        RefusalKind.NotAllowed => Outcome.NotAllowed,
        RefusalKind.NotFound => Outcome.NotFound,
        RefusalKind.Invalid => Outcome.Invalid,
        RefusalKind.Conflict => Outcome.Conflict,
        _ => throw new InvalidOperationException($"Unexpected refusal {refusal}."),
    };

    /// <summary>Asks every caller in turn (index <c>i</c> lets each act on a resource of its own)
    /// and compares what each was answered with <paramref name="expected"/>, by caller name.</summary>
    public static async Task ExpectAsync(IReadOnlyDictionary<string, Outcome> expected, Func<int, Caller, Task<Outcome>> act)
    {
        var answered = new Dictionary<string, Outcome>();
        for (var i = 0; i < All.Count; i++)
        {
            answered[All[i].Name] = await act(i, All[i].Caller);
        }

        Assert.Equal(
            All.Select(c => $"{c.Name}: {expected[c.Name]}"),
            All.Select(c => $"{c.Name}: {answered[c.Name]}"));
    }

    /// <summary>The outcomes by caller, in the order of <see cref="All"/>.</summary>
    public static Dictionary<string, Outcome> Expect(Outcome senderHr, Outcome adminHr, Outcome adminHr2, Outcome adminHrX, Outcome adminPayroll, Outcome adminRoot) => new()
    {
        ["sender /hr"] = senderHr,
        ["admin /hr"] = adminHr,
        ["admin /hr2"] = adminHr2,
        ["admin /hr.x"] = adminHrX,
        ["admin /hr/payroll"] = adminPayroll,
        ["admin /"] = adminRoot,
    };

    private static Caller.Key Key(string scope, ApiKeyRole role) =>
        new Caller.Key(new ApiKey($"test-{role}-{scope}", ScopePath.Parse(scope), role, null, DateTimeOffset.UnixEpoch, null));
}
