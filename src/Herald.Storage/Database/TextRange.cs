using Herald.Scopes;

namespace Herald.Storage.Database;

/// <summary>
/// "Starts with" in SQL without <c>LIKE</c>, whose <c>_</c> and <c>%</c> are wildcards that names
/// may hold (<c>/eu_west</c> is a scope; LIKE '/eu_west/%' also matches '/eu-west/…'). A prefix is
/// a range in byte order instead: every text that starts with <c>p</c> lies in [p, p'), where p'
/// is p with its last character raised by one. Every engine compares these columns by code point
/// (SQLite's BINARY, PostgreSQL's COLLATE "C"), so the range holds exactly the texts that start with p.
/// </summary>
public static class TextRange
{
    /// <summary>The first text after every text that starts with <paramref name="prefix"/>.</summary>
    public static string After(string prefix)
    {
        ArgumentException.ThrowIfNullOrEmpty(prefix);
        return prefix[..^1] + (char)(prefix[^1] + 1);
    }

    /// <summary>SQL true for <paramref name="column"/> = the scope or a scope below it, with the
    /// parameters <c>@scope</c>, <c>@below</c> and <c>@beyond</c> of <see cref="Subtree"/>.</summary>
    public static string SameOrBelow(string column) => $"({column} = @scope OR ({column} >= @below AND {column} < @beyond))";

    /// <summary>The parameters of <see cref="SameOrBelow"/>: '/hr', '/hr/' and '/hr0' ('0' follows '/').</summary>
    public static (string Scope, string Below, string Beyond) Subtree(ScopePath scope) =>
        (scope.Value, scope.Value + "/", After(scope.Value + "/"));
}
