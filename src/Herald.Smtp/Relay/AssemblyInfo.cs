using System.Runtime.CompilerServices;

// The parser, the state machine table and the DATA reader are internal; their unit tests read them directly.
[assembly: InternalsVisibleTo("Herald.Tests")]
