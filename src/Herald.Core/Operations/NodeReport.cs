namespace Herald.Operations;

/// <summary>How one check of the node came out. Only <see cref="Fail"/> makes the node not ready
/// (and <c>herald doctor</c> exit non-zero); a <see cref="Warn"/> is worth reading, not an outage.</summary>
public enum CheckStatus
{
    Ok,
    Warn,
    Fail,
}

/// <summary>One line of a node report: what was checked, how it came out, and a sentence saying
/// what was found (and, when it failed, what to do). Never a secret or a connection string.</summary>
public sealed record NodeCheck(string Name, CheckStatus Status, string Detail)
{
    public static NodeCheck Ok(string name, string detail) => new(name, CheckStatus.Ok, detail);

    public static NodeCheck Warn(string name, string detail) => new(name, CheckStatus.Warn, detail);

    public static NodeCheck Fail(string name, string detail) => new(name, CheckStatus.Fail, detail);
}

/// <summary>Every check of a node, in the order they ran; the node's status is the worst of them.</summary>
public sealed record NodeReport(IReadOnlyList<NodeCheck> Checks)
{
    public CheckStatus Status => Checks.Count == 0 ? CheckStatus.Ok : Checks.Max(c => c.Status);

    public IEnumerable<NodeCheck> Failed => Checks.Where(c => c.Status == CheckStatus.Fail);
}
