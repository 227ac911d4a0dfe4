namespace Herald;

/// <summary>What a save use case stored, and whether it was new (API: 201 rather than 200).</summary>
public sealed record Saved<T>(T Value, bool Created);

/// <summary>Whether a save may add, change, or either: <c>herald user add</c> and the console's
/// "Add" refuse an id in use, <c>herald user set</c> refuses one that is not, and the API's PUT
/// does either.</summary>
public enum SaveMode
{
    AddOrChange,
    Add,
    Change,
}

/// <summary>Building a <see cref="Result{T}"/> where C# will not convert implicitly (from a
/// value whose static type is an interface).</summary>
public static class Result
{
    public static Result<T> Of<T>(T value) => value;
}
