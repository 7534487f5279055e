using Automations.Persistence.Writes;

namespace Automations.Persistence.Tests;

/// <summary>The write unit's parameter renamer: each step's <c>@name</c> becomes its own, and nothing that only looks like one.</summary>
public class Naming_step_parameters
{
    public static TheoryData<string, string> Cases => new()
    {
        { "select @id", "select @s_id" },
        { "values (@id, @Note)", "values (@s_id, @s_Note)" },
        // A cast follows the name.
        { "select @body::jsonb, @n::int[]", "select @s_body::jsonb, @s_n::int[]" },
        // Operators that contain @.
        { "where tags @> @want and @want <@ tags", "where tags @> @s_want and @s_want <@ tags" },
        { "where doc @@ @q", "where doc @@ @s_q" },
        // Literals, quoted identifiers and comments keep their text.
        { "select '@id', @id", "select '@id', @s_id" },
        { "select 'it''s @id', @id", "select 'it''s @id', @s_id" },
        { @"select E'\'@id', @id", @"select E'\'@id', @s_id" },
        { "select $$@id$$, $tag$ '@id $$ $tag$, @id", "select $$@id$$, $tag$ '@id $$ $tag$, @s_id" },
        { "select \"@id\", @id", "select \"@id\", @s_id" },
        { "select @id -- @id\n, @id", "select @s_id -- @id\n, @s_id" },
        { "select /* @id /* nested @id */ @id */ @id", "select /* @id /* nested @id */ @id */ @s_id" },
        // An e-mail address is not a parameter; $1 is not a dollar quote.
        { "select 'a@b.c', a@b, $1, @id", "select 'a@b.c', a@b, $1, @s_id" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Should_rename_only_parameters(string sql, string expected) =>
        Assert.Equal(expected, SqlText.RenameParameters(sql, name => "s_" + name));

    [Theory]
    [InlineData("select @a, @B::jsonb, @a, '@c', @c", "select $1, $2::jsonb, $1, '@c', $3", new[] { "a", "B", "c" })]
    [InlineData("where tags @> @want and x = 'it''s @no' -- @no\n and @Want <@ tags", "where tags @> $1 and x = 'it''s @no' -- @no\n and $1 <@ tags", new[] { "want" })]
    [InlineData("select $$@id$$, 1", "select $$@id$$, 1", new string[0])]
    public void Should_number_parameters_by_first_use(string sql, string expected, string[] names)
    {
        var (positional, order) = SqlText.ToPositional(sql);
        Assert.Equal(expected, positional);
        Assert.Equal(names, order);
    }

    [Theory]
    [InlineData("insert into t select 1 from inbox", new[] { "insert", "into", "t", "select", "from", "inbox" })]
    [InlineData("select 'inbox', \"step1\" from x.inbox -- inbox", new[] { "select", "from", "x" })]
    [InlineData("select E'x' from Step1", new[] { "select", "from", "step1" })]
    public void Should_find_the_words_outside_literals(string sql, string[] words) =>
        Assert.Equal(words, SqlText.Words(sql));
}
