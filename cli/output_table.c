/* Aligned text tables, kubectl style: capitals in the header, two spaces between columns, "-" for an
 * empty value. */
#include <stdio.h>

#include "cli/cli.h"

int table_init(Table *t, const char *const *headers, size_t n_cols)
{
        *t = (Table){.n_cols = n_cols};
        return table_add_row(t, headers);
}

int table_add_row(Table *t, const char *const *values)
{
        char **cells = realloc(t->cells, (t->n_cells + t->n_cols) * sizeof(*cells));
        if (!cells)
                return -ENOMEM;
        t->cells = cells;
        for (size_t i = 0; i < t->n_cols; i++) {
                const char *v = values[i] && values[i][0] ? values[i] : "-";
                char *copy = strdup(v);
                if (!copy)
                        return -ENOMEM;
                cells[t->n_cells++] = copy;
        }
        return 0;
}

size_t table_rows(const Table *t)
{
        return t->n_cols ? t->n_cells / t->n_cols : 0;
}

void table_print(const Table *t, FILE *f)
{
        size_t widths[32] = {0};
        size_t rows = table_rows(t);
        if (t->n_cols == 0 || t->n_cols > ARRAY_SIZE(widths))
                return;
        for (size_t r = 0; r < rows; r++)
                for (size_t c = 0; c < t->n_cols; c++) {
                        size_t w = strlen(t->cells[r * t->n_cols + c]);
                        if (w > widths[c])
                                widths[c] = w;
                }
        for (size_t r = 0; r < rows; r++) {
                for (size_t c = 0; c + 1 < t->n_cols; c++)
                        fprintf(f, "%-*s  ", (int)widths[c], t->cells[r * t->n_cols + c]);
                fprintf(f, "%s\n", t->cells[r * t->n_cols + t->n_cols - 1]);
        }
}

void table_done(Table *t)
{
        for (size_t i = 0; i < t->n_cells; i++)
                free(t->cells[i]);
        free(t->cells);
        *t = (Table){0};
}
