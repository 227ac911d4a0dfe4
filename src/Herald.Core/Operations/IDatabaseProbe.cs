namespace Herald.Operations;

/// <summary>What the node's database says about itself, for the node checks: which migrations it
/// has, which this binary knows, and the time on its clock. Implemented by the storage engine.</summary>
public interface IDatabaseProbe
{
    /// <summary>The engine's name (<c>sqlite</c>, <c>postgres</c>), for sentences.</summary>
    string Engine { get; }

    /// <summary>True when the database runs on this machine's clock (an embedded file), so that
    /// a clock comparison with it says nothing.</summary>
    bool SharesThisMachinesClock { get; }

    /// <summary>The versions applied to the database and those this binary carries.</summary>
    Task<SchemaVersions> ReadSchemaAsync(CancellationToken cancellationToken);

    /// <summary>The database server's current time.</summary>
    Task<DateTimeOffset> ReadClockAsync(CancellationToken cancellationToken);
}

/// <summary>Migrations applied to a database against those a binary knows.</summary>
public sealed record SchemaVersions(IReadOnlyList<int> Applied, IReadOnlyList<int> Known)
{
    /// <summary>Known to this binary and not applied: the database is older than the binary.</summary>
    public IReadOnlyList<int> Pending => [.. Known.Except(Applied).Order()];

    /// <summary>Applied and not known to this binary: a newer release migrated the database.</summary>
    public IReadOnlyList<int> Unknown => [.. Applied.Except(Known).Order()];
}
