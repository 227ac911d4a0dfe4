namespace Herald.Credentials;

/// <summary>Where this node's credential key passphrase comes from: the environment
/// (<c>HERALD_CREDENTIAL_KEY</c>) first, else a key file (<c>HERALD_CREDENTIAL_KEY_FILE</c>, or
/// <c>credential.key</c> in the data directory, which <c>herald key set</c> writes).</summary>
public sealed record NodePassphrase(string? EnvironmentValue, string KeyFilePath)
{
    public const string EnvironmentVariable = "HERALD_CREDENTIAL_KEY";
    public const string FileEnvironmentVariable = "HERALD_CREDENTIAL_KEY_FILE";
    public const string DefaultFileName = "credential.key";

    public static NodePassphrase ForNode(string dataDirectory, Func<string, string?> environment) => new(
        NonEmpty(environment(EnvironmentVariable)),
        NonEmpty(environment(FileEnvironmentVariable)) ?? Path.Combine(dataDirectory, DefaultFileName));

    public bool FromEnvironment => EnvironmentValue is not null;

    /// <summary>Where the passphrase was found, for messages; never the passphrase itself.</summary>
    public string Origin => FromEnvironment ? $"the {EnvironmentVariable} environment variable" : $"the key file {KeyFilePath}";

    public string? Read()
    {
        if (EnvironmentValue is not null)
        {
            return EnvironmentValue;
        }

        return File.Exists(KeyFilePath) ? NonEmpty(TrimLineEnd(File.ReadAllText(KeyFilePath))) : null;
    }

    /// <summary>Writes the key file readable by its owner only, replacing it atomically.</summary>
    public void WriteKeyFile(string passphrase)
    {
        var directory = Path.GetDirectoryName(Path.GetFullPath(KeyFilePath))!;
        Directory.CreateDirectory(directory);
        var temporary = KeyFilePath + ".new";
        var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        using (var stream = new FileStream(temporary, options))
        using (var writer = new StreamWriter(stream))
        {
            writer.Write(passphrase);
            writer.Write('\n');
        }

        File.Move(temporary, KeyFilePath, overwrite: true);
    }

    public static string TrimLineEnd(string text) => text.TrimEnd('\r', '\n');

    private static string? NonEmpty(string? value) => string.IsNullOrEmpty(value) ? null : value;
}
