// The slice of mvdan-sh (GopherJS build of mvdan.cc/sh/v3/syntax) that the
// policy's shell parser uses. shell.ts reads the parsed tree through
// `__internal_object__`, GopherJS's own representation of the Go values,
// because going through the JS wrappers costs tens of microseconds per
// property access. In that representation:
//  - slices are { $array, $offset, $length };
//  - strings are Go byte strings (one char per UTF-8 byte);
//  - a nil pointer is its type's `nil` sentinel, a nil interface an untyped
//    object: always test with `present()` in shell.ts;
//  - every node has Pos() and End() returning { offs } (a byte offset).
declare module "mvdan-sh" {
  export namespace MvdanSh {
    interface Slice<T> {
      $array: T[];
      $offset: number;
      $length: number;
    }
    interface Pos {
      offs: number;
    }
    interface Node {
      Pos(): Pos;
      End(): Pos;
    }
    interface File extends Node {
      Stmts: Slice<Stmt>;
    }
    interface Stmt extends Node {
      Cmd: Node;
      Redirs: Slice<Redirect>;
      Negated: boolean;
      Background: boolean;
      Coprocess: boolean;
    }
    interface Lit extends Node {
      Value: string;
    }
    interface Word extends Node {
      Parts: Slice<Node>;
    }
    interface SglQuoted extends Node {
      Dollar: boolean;
      Value: string;
    }
    interface DblQuoted extends Node {
      Dollar: boolean;
      Parts: Slice<Node>;
    }
    interface ParamExp extends Node {
      Excl: boolean;
      Length: boolean;
      Width: boolean;
      Param: Lit;
      Index: Node;
      Slice: Node;
      Repl: Node;
      Exp: Node;
    }
    interface CmdSubst extends Node {
      Stmts: Slice<Stmt>;
    }
    interface Redirect extends Node {
      Op: number;
      N: Lit;
      Word: Word;
      Hdoc: Word;
    }
    interface ArrayElem extends Node {
      Value: Word;
    }
    interface ArrayExpr extends Node {
      Elems: Slice<ArrayElem>;
    }
    interface Assign extends Node {
      Naked: boolean;
      Name: Lit;
      Value: Word;
      Array: ArrayExpr;
    }
    interface CallExpr extends Node {
      Assigns: Slice<Assign>;
      Args: Slice<Word>;
    }
    interface BinaryCmd extends Node {
      Op: number;
      X: Stmt;
      Y: Stmt;
    }
    interface IfClause extends Node {
      Cond: Slice<Stmt>;
      Then: Slice<Stmt>;
      Else: IfClause;
    }
    interface WhileClause extends Node {
      Cond: Slice<Stmt>;
      Do: Slice<Stmt>;
    }
    interface WordIter extends Node {
      Name: Lit;
      Items: Slice<Word>;
    }
    interface ForClause extends Node {
      Loop: Node;
      Do: Slice<Stmt>;
    }
    interface CaseItem extends Node {
      Patterns: Slice<Word>;
      Stmts: Slice<Stmt>;
    }
    interface CaseClause extends Node {
      Word: Word;
      Items: Slice<CaseItem>;
    }
    interface Block extends Node {
      Stmts: Slice<Stmt>;
    }
    interface FuncDecl extends Node {
      Name: Lit;
      Body: Stmt;
    }
    interface DeclClause extends Node {
      Variant: Lit;
      Args: Slice<Assign>;
    }
    interface TimeClause extends Node {
      Stmt: Stmt;
    }
    interface CoprocClause extends Node {
      Stmt: Stmt;
    }
    /** The error Parse throws (a JS wrapper of the Go error). */
    interface ParseError {
      Error(): string;
    }
    /** What Parse returns: a JS wrapper around the Go *File. */
    interface WrappedFile {
      __internal_object__: File;
    }
    interface Parser {
      Parse(src: string, name: string): WrappedFile;
    }
    interface Syntax {
      NewParser(...options: unknown[]): Parser;
    }
  }
  const mvdan: { syntax: MvdanSh.Syntax };
  export default mvdan;
}
