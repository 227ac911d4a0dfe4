using Herald.Settings;

[assembly: AssemblyFixture(typeof(Herald.Tests.CodePages))]

namespace Herald.Tests;

/// <summary>Registers the code-page encodings before any test runs, as every Herald host does at
/// start-up: MimeKit learns which charsets exist the first time it is used, so a test that parses a
/// message before any other test composed one would otherwise see ISO-2022-JP as unknown.</summary>
public sealed class CodePages
{
    public CodePages() => Charsets.EnsureRegistered();
}
