using Herald.Scopes;

namespace Herald.Web.Console.OpenIdConnect;

/// <summary>What a person's groups make them in the console.</summary>
public abstract record AdministratorDecision
{
    /// <summary>No group of theirs is mapped: they sign in as a person, if the directory knows them.</summary>
    public sealed record NotAnAdministrator : AdministratorDecision;

    /// <summary>Administrator of <see cref="Scope"/> (and below), because of <see cref="Group"/>.</summary>
    public sealed record Administrator(ScopePath Scope, string Group) : AdministratorDecision;

    /// <summary>Their groups map to scopes none of which contains the others: a session has one
    /// scope, and Herald does not pick one for them.</summary>
    public sealed record Unrelated(IReadOnlyList<ScopePath> Scopes) : AdministratorDecision
    {
        public string Sentence =>
            $"Your groups make you an administrator of {string.Join(" and ", Scopes)}, and a console session has one scope: "
            + "ask for one group mapped to a scope that contains the others, or for fewer groups.";
    }
}

/// <summary>
/// The map "group or role claim value → administered scope" (<c>OpenIdConnect:AdministratorGroups</c>,
/// items <c>/hr=herald-admins-hr</c>) and the one rule that reads it: a person whose mapped scopes
/// include one that contains all the others administers that one; mapped scopes that are unrelated
/// (<c>/hr</c> and <c>/finance</c>) are refused rather than ordered by a guess. Claim values are
/// compared exactly (case-sensitive), as providers issue them.
/// </summary>
public sealed class AdministratorGroupMap
{
    /// <summary>Most items in the map and most claim values read from one token.</summary>
    public const int MaxEntries = 1000;

    public const int MaxValueLength = 1000;

    private readonly Dictionary<string, List<ScopePath>> _scopesByValue;

    private AdministratorGroupMap(Dictionary<string, List<ScopePath>> scopesByValue) => _scopesByValue = scopesByValue;

    public static AdministratorGroupMap Empty { get; } = new(new Dictionary<string, List<ScopePath>>(StringComparer.Ordinal));

    public int Count => _scopesByValue.Count;

    /// <summary>Each mapped value with its scopes, for the console's display.</summary>
    public IEnumerable<(string Value, ScopePath Scope)> Entries =>
        _scopesByValue.SelectMany(e => e.Value.Select(s => (e.Key, s))).OrderBy(e => e.s.Value, StringComparer.Ordinal).ThenBy(e => e.Key, StringComparer.Ordinal);

    /// <summary>Reads items <c>SCOPE=VALUE</c>; the error names the first unreadable item.</summary>
    public static (AdministratorGroupMap? Map, string? Error) Parse(IReadOnlyList<string>? items)
    {
        var map = new Dictionary<string, List<ScopePath>>(StringComparer.Ordinal);
        if (items is null)
        {
            return (new AdministratorGroupMap(map), null);
        }

        if (items.Count > MaxEntries)
        {
            return (null, $"has {items.Count} items; at most {MaxEntries}.");
        }

        for (var i = 0; i < items.Count; i++)
        {
            var item = items[i] ?? "";
            var split = item.IndexOf('=', StringComparison.Ordinal);
            if (split <= 0 || split == item.Length - 1)
            {
                return (null, $"item {i} is not SCOPE=VALUE (such as /hr=herald-admins-hr).");
            }

            if (!ScopePath.TryParse(item[..split], out var scope, out var error))
            {
                return (null, $"item {i} names a scope Herald cannot read ('{item[..split]}'): {error}");
            }

            var value = item[(split + 1)..].Trim();
            if (value.Length is 0 or > MaxValueLength)
            {
                return (null, $"item {i} has an empty value or one longer than {MaxValueLength} characters.");
            }

            if (!map.TryGetValue(value, out var scopes))
            {
                map[value] = scopes = [];
            }

            if (!scopes.Contains(scope))
            {
                scopes.Add(scope);
            }
        }

        return (new AdministratorGroupMap(map), null);
    }

    /// <summary>What the claim values <paramref name="values"/> (a token's groups or roles) make
    /// their holder: the highest mapped scope when it contains every other mapped one.</summary>
    public AdministratorDecision Decide(IEnumerable<string> values)
    {
        ArgumentNullException.ThrowIfNull(values);
        var mapped = new List<(ScopePath Scope, string Value)>();
        foreach (var value in values.Take(MaxEntries).Distinct(StringComparer.Ordinal))
        {
            if (_scopesByValue.TryGetValue(value, out var scopes))
            {
                mapped.AddRange(scopes.Select(s => (s, value)));
            }
        }

        if (mapped.Count == 0)
        {
            return new AdministratorDecision.NotAnAdministrator();
        }

        // The shortest path is the only candidate that could contain all the others.
        var highest = mapped.OrderBy(m => m.Scope.Value.Length).ThenBy(m => m.Value, StringComparer.Ordinal).First();
        return mapped.All(m => m.Scope.IsSameOrDescendantOf(highest.Scope))
            ? new AdministratorDecision.Administrator(highest.Scope, highest.Value)
            : new AdministratorDecision.Unrelated([.. mapped.Select(m => m.Scope).Distinct().OrderBy(s => s.Value, StringComparer.Ordinal)]);
    }

    /// <summary>Whether <paramref name="group"/> still maps to <paramref name="scope"/>: checked on
    /// every request of a provider-signed-in administrator, so that a changed map ends the session.</summary>
    public bool Grants(string group, ScopePath scope) =>
        _scopesByValue.TryGetValue(group, out var scopes) && scopes.Contains(scope);
}
