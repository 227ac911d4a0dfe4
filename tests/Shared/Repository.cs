namespace Herald.Testing;

/// <summary>The repository the tests run from: its documentation and source, read as files.</summary>
internal static class Repository
{
    public static string Root { get; } = FindRoot();

    public static string PathOf(params string[] parts) => Path.Combine([Root, .. parts]);

    /// <summary>The files matching <paramref name="pattern"/> under <paramref name="directory"/>,
    /// without build output and installed npm tools.</summary>
    public static IEnumerable<string> Files(string directory, string pattern)
    {
        var path = PathOf(directory);
        string[] skipped = ["obj", "bin", "node_modules"];
        return Directory.Exists(path)
            ? Directory.EnumerateFiles(path, pattern, SearchOption.AllDirectories)
                .Where(f => !skipped.Any(s => f.Contains($"{Path.DirectorySeparatorChar}{s}{Path.DirectorySeparatorChar}", StringComparison.Ordinal)))
            : [];
    }

    private static string FindRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "Herald.slnx")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException("The repository root (with Herald.slnx) was not found above " + AppContext.BaseDirectory);
    }
}
