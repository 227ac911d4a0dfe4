namespace Herald.Storage.Database;

/// <summary>When a committed write must be on disk.</summary>
public enum Durability
{
    /// <summary>Before the commit returns: everything anyone is told about (a 202, a 250, an
    /// administrator's change).</summary>
    OnCommit,

    /// <summary>With the next <see cref="OnCommit"/> commit (or checkpoint) after it: a crash of
    /// the process loses nothing, a crash of the machine may lose the last of these writes. Only
    /// for a delivery worker's own bookkeeping (claims, lease renewals, attempt outcomes), whose
    /// loss means no more than a message sent again once its lease runs out: at-least-once.</summary>
    WithNextCommit,
}
